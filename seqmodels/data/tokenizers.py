"""Character-, word- and subword-level (byte-pair encoding) tokenisers with a fixed vocabulary, saved as JSON.

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

Invertible where it should be: CharTokenizer and BPETokenizer decode(encode(text)) == text for text made of
characters seen by `build`; WordTokenizer gives the text lower-cased with one space between tokens.
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


BPE_PATTERN = r"\w+ ?|[^\w\s]+ ?|\s"  # a word (or run of punctuation) with the one space after it, or one blank


class BPETokenizer(Tokenizer):
    """Byte-pair encoding (Sennrich, Haddow & Birch 2016, Algorithm 1) over characters.

    The text is cut into chunks (`BPE_PATTERN`): a word or a run of punctuation together with the one space
    that follows it, or a single whitespace character. That trailing space is the paper's end-of-word marker
    `</w>`: "low low" is the chunks "low " and "low", which start as the symbols l o w ␣ and l o w. Training
    repeatedly merges the most frequent adjacent pair of symbols inside the chunks (weighted by chunk counts);
    ties go to the pair that occurs first in the corpus (chunks in order of first appearance, then position
    in the chunk), which is the order of the paper's Python code: "low lower newest widest" (5, 2, 6, 3 times)
    merges e s, es t, est ␣, l o, lo w, n e, ne w, new est␣, low ␣, w i.

    Encoding applies the merges to each chunk in the order they were learned. Tokens are strings of the text
    itself (the marker is a real space), so decode is concatenation: decode(encode(text)) == text for any
    text whose characters were seen by `build`; an unseen character is <unk> (no byte fallback).

    Vocabulary: the reserved ids, the characters (most frequent first, ties by string), then the merged
    tokens in the order they were learned.
    """

    kind = "bpe"

    def __init__(self, tokens: Sequence[str], *, merges: Sequence[Sequence[str]] = (), pattern: str = BPE_PATTERN):
        super().__init__(tokens)
        self.merges = [tuple(m) for m in merges]
        for a, b in self.merges:
            if a + b not in self._ids:
                raise ValueError(f"BPE merge ({a!r}, {b!r}) makes {a + b!r}, which is not in the vocabulary")
        self.pattern, self._regex = pattern, re.compile(pattern)
        self._ranks = {m: r for r, m in enumerate(self.merges)}
        self._cache: dict[str, list[str]] = {}

    @classmethod
    def build(cls, texts: Iterable[str], *, max_size: int | None = None, min_count: int = 2,
              num_merges: int | None = None, pattern: str = BPE_PATTERN):
        """Learn merges on `texts` until the best pair is seen fewer than `min_count` times, `num_merges`
        merges were made, or the vocabulary holds `max_size` ids (reserved + characters + merged tokens)."""
        regex = re.compile(pattern)
        chunks = collections.Counter()  # insertion order = first appearance
        for text in texts:
            chunks.update(regex.findall(as_text(text)))
        words = [list(c) for c in chunks]  # symbols of each distinct chunk
        freq = list(chunks.values())
        chars = collections.Counter()
        for w, n in zip(words, freq):
            for c in w:
                chars[c] += n
        tokens = list(RESERVED) + sorted(chars, key=lambda c: (-chars[c], c))
        if max_size is not None and max_size < len(tokens):
            raise ValueError(f"max_size={max_size} is smaller than the {len(RESERVED)} reserved ids plus the "
                             f"{len(chars)} characters of the corpus; expected max_size >= {len(tokens)}")
        counts, where = collections.Counter(), collections.defaultdict(set)  # pair -> count, chunks holding it

        def tally(i, sign):  # add (+1) or remove (-1) chunk i's pairs
            for pair in zip(words[i], words[i][1:]):
                counts[pair] += sign * freq[i]
                if sign > 0:
                    where[pair].add(i)
                elif counts[pair] == 0:
                    del counts[pair]

        def first(pair):  # (chunk, position) of the pair's first occurrence in the corpus
            i = min(where[pair])
            return i, list(zip(words[i], words[i][1:])).index(pair)

        for i in range(len(words)):
            tally(i, +1)
        merges, seen = [], set(tokens)
        most_merges = float("inf") if num_merges is None else num_merges
        most_ids = float("inf") if max_size is None else max_size
        while counts and len(merges) < most_merges and len(seen) < most_ids:
            best = max(counts.values())
            if best < max(min_count, 1):
                break
            pair = min((p for p, c in counts.items() if c == best), key=first)
            merges.append(pair)
            if pair[0] + pair[1] not in seen:
                seen.add(pair[0] + pair[1])
                tokens.append(pair[0] + pair[1])
            for i in sorted(where.pop(pair)):  # only the chunks that hold the pair change
                tally(i, -1)
                for q in zip(words[i], words[i][1:]):
                    if q != pair:
                        where[q].discard(i)
                words[i] = _merge(words[i], pair)
                tally(i, +1)
        return cls(tokens, merges=merges, pattern=pattern)

    def _encode_chunk(self, chunk: str) -> list[str]:
        if chunk not in self._cache:
            symbols = list(chunk)
            while len(symbols) > 1:
                pair = min(zip(symbols, symbols[1:]), key=lambda p: self._ranks.get(p, len(self._ranks)))
                if pair not in self._ranks:
                    break
                symbols = _merge(symbols, pair)
            self._cache[chunk] = symbols
        return self._cache[chunk]

    def split(self, text: str) -> list[str]:
        return [s for chunk in self._regex.findall(text) for s in self._encode_chunk(chunk)]

    def join(self, tokens: list[str]) -> str:
        return "".join(tokens)

    def _options(self) -> dict:
        return {"merges": [list(m) for m in self.merges], "pattern": self.pattern}


def _merge(symbols: list[str], pair: tuple[str, str]) -> list[str]:
    """Every non-overlapping occurrence of `pair`, left to right, replaced by its concatenation."""
    out, i = [], 0
    while i < len(symbols):
        if i + 1 < len(symbols) and (symbols[i], symbols[i + 1]) == pair:
            out.append(symbols[i] + symbols[i + 1])
            i += 2
        else:
            out.append(symbols[i])
            i += 1
    return out


_KINDS = {"char": CharTokenizer, "word": WordTokenizer, "bpe": BPETokenizer}


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
           "BPETokenizer", "load_tokenizer", "WORD_PATTERN", "BPE_PATTERN", "as_text"]
