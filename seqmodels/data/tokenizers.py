"""Character- and word-level tokenisers with a fixed vocabulary, saved as JSON.

Ids 0..3 are reserved in every vocabulary:

    0 <pad>   right padding (batching pads with 0)
    1 <unk>   anything not in the vocabulary
    2 <bos>   begin of sequence (optional, `add_bos=True`)
    3 <eos>   end of sequence (optional, `add_eos=True`)

then the tokens seen by `build`, most frequent first (ties by the token's
string, so the same texts always give the same ids).

    tok = WordTokenizer.build(texts, max_size=20_000)
    ids = tok.encode("A short review.")      # int32 [T]
    tok.decode(ids)                          # 'a short review .'
    tok.save(path); load_tokenizer(path)     # same ids
"""

import collections
import json
import os
import re
from collections.abc import Iterable, Sequence

import numpy as np

RESERVED = ("<pad>", "<unk>", "<bos>", "<eos>")
PAD_ID, UNK_ID, BOS_ID, EOS_ID = 0, 1, 2, 3


class Tokenizer:
    """Shared vocabulary logic; subclasses define how text splits into tokens and joins back."""

    kind = ""

    def __init__(self, tokens: Sequence[str]):
        tokens = list(tokens)
        if tuple(tokens[: len(RESERVED)]) != RESERVED:
            raise ValueError(f"a vocabulary must start with the reserved tokens {RESERVED}, got {tuple(tokens[:4])}")
        if len(set(tokens)) != len(tokens):
            dup = [t for t, c in collections.Counter(tokens).items() if c > 1]
            raise ValueError(f"vocabulary tokens must be unique; repeated: {dup[:5]}")
        self.tokens = tokens
        self._ids = {t: i for i, t in enumerate(tokens)}

    # -- subclass hooks
    def split(self, text: str) -> list[str]:
        raise NotImplementedError

    def join(self, tokens: list[str]) -> str:
        raise NotImplementedError

    def _options(self) -> dict:
        return {}

    # -- vocabulary
    @property
    def vocab_size(self) -> int:
        """V, including the reserved ids."""
        return len(self.tokens)

    @classmethod
    def build(cls, texts: Iterable[str], *, max_size: int | None = None, min_count: int = 1, **options):
        """Vocabulary of the tokens in `texts` seen >= min_count times, at most `max_size` ids in all."""
        if max_size is not None and max_size < len(RESERVED):
            raise ValueError(f"max_size counts the {len(RESERVED)} reserved ids, so it must be >= {len(RESERVED)}, "
                             f"got {max_size}")
        empty = cls(RESERVED, **options)
        counts = collections.Counter()
        for text in texts:
            counts.update(empty.split(as_text(text)))
        kept = sorted((t for t, c in counts.items() if c >= min_count and t not in RESERVED),
                      key=lambda t: (-counts[t], t))
        if max_size is not None:
            kept = kept[: max_size - len(RESERVED)]
        return cls(list(RESERVED) + kept, **options)

    # -- encoding
    def encode(self, text: str, *, add_bos: bool = False, add_eos: bool = False) -> np.ndarray:
        """Token ids [T] int32 (unknown tokens -> UNK_ID)."""
        ids = [self._ids.get(t, UNK_ID) for t in self.split(as_text(text))]
        return np.asarray([BOS_ID] * add_bos + ids + [EOS_ID] * add_eos, np.int32)

    def decode(self, ids, *, skip_special: bool = True) -> str:
        """Text of token ids; padding/bos/eos are skipped with `skip_special` (unknowns stay '<unk>')."""
        ids = np.asarray(ids).reshape(-1)
        if ids.size and (ids.min() < 0 or ids.max() >= self.vocab_size):
            raise ValueError(f"token ids must lie in [0, {self.vocab_size}), got values in [{ids.min()}, {ids.max()}]")
        special = {PAD_ID, BOS_ID, EOS_ID} if skip_special else set()
        return self.join([self.tokens[int(i)] for i in ids if int(i) not in special])

    # -- persistence
    def save(self, path: str | os.PathLike) -> None:
        """Write the vocabulary as JSON: {'kind', 'tokens', 'options'}."""
        with open(path, "w", encoding="utf-8") as f:
            json.dump({"kind": self.kind, "tokens": self.tokens, "options": self._options()}, f, ensure_ascii=False)

    @classmethod
    def load(cls, path: str | os.PathLike):
        tok = load_tokenizer(path)
        if not isinstance(tok, cls):
            raise ValueError(f"{path} holds a {type(tok).__name__}, expected a {cls.__name__}")
        return tok

    def __eq__(self, other) -> bool:
        return type(self) is type(other) and self.tokens == other.tokens and self._options() == other._options()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(vocab_size={self.vocab_size}, {self._options()})"


class CharTokenizer(Tokenizer):
    """One token per Unicode character (Karpathy's char-rnn, tiny_shakespeare)."""

    kind = "char"

    def split(self, text: str) -> list[str]:
        return list(text)

    def join(self, tokens: list[str]) -> str:
        return "".join(tokens)


WORD_PATTERN = r"\w+|[^\w\s]"  # runs of letters/digits, and each punctuation mark alone


class WordTokenizer(Tokenizer):
    """Words and punctuation marks (regex `pattern`), optionally lower-cased; decode joins with spaces."""

    kind = "word"

    def __init__(self, tokens: Sequence[str], *, lowercase: bool = True, pattern: str = WORD_PATTERN):
        super().__init__(tokens)
        self.lowercase, self.pattern = lowercase, pattern
        self._regex = re.compile(pattern)

    def split(self, text: str) -> list[str]:
        return self._regex.findall(text.lower() if self.lowercase else text)

    def join(self, tokens: list[str]) -> str:
        return " ".join(tokens)

    def _options(self) -> dict:
        return {"lowercase": self.lowercase, "pattern": self.pattern}


_KINDS = {"char": CharTokenizer, "word": WordTokenizer}


def load_tokenizer(path: str | os.PathLike) -> Tokenizer:
    """The tokenizer saved at `path` (by Tokenizer.save), of whichever kind it is."""
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    if not isinstance(data, dict) or data.get("kind") not in _KINDS or "tokens" not in data:
        raise ValueError(f"{path} is not a saved tokenizer: expected JSON with 'kind' in {sorted(_KINDS)} and "
                         f"'tokens', got {str(data)[:80]!r}")
    return _KINDS[data["kind"]](data["tokens"], **data.get("options", {}))


def as_text(text) -> str:
    """TFDS text features come back as bytes (real data) or str (mock data)."""
    return text.decode("utf-8") if isinstance(text, bytes) else str(text)


__all__ = ["RESERVED", "PAD_ID", "UNK_ID", "BOS_ID", "EOS_ID", "Tokenizer", "CharTokenizer", "WordTokenizer",
           "load_tokenizer", "WORD_PATTERN", "as_text"]
