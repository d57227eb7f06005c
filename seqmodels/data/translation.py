"""Translation data: an offline English -> French generator with real structure, and the TFDS TED talks.

    pairs = generate(seed, n, min_len=3, max_len=60)     [(english, french), ...]
    en, fr = vocabularies()                              WordTokenizers covering every generated word
    ted_hrlr_translate(split, pair="pt_to_en")           [(source, target), ...] of a prepared TFDS set

The generator writes sentences of quantities and dates in words, joined by
commas and "and", then translates them with the rules of French:

    three small red cars , on march first nineteen eighty four and seventy one old trees
    trois petites voitures rouges , le premier mars mille neuf cent quatre vingt quatre et soixante et onze vieux arbres

What the model must learn is structure, not a word list: French numbers are
not a word-by-word copy (71 = "soixante et onze", 60 + 11; 97 = "quatre vingt
dix sept", 4 x 20 + 10 + 7; "deux cents" but "deux cent trois"); colour
adjectives move after the noun while size/age adjectives stay before it
("small red cars" -> "petites voitures rouges"); adjectives and "un/une"
agree in gender and number with a noun that may come later in the source;
dates reorder ("march first" -> "le premier mars") and years expand
("nineteen eighty four" -> "mille neuf cent quatre vingt quatre"). Each
sentence's source length is drawn uniformly in [min_len, max_len] tokens, so
every length is equally represented (the spread Bahdanau et al. 2015's
Figure 2 needs). Hyphens are dropped ("quatre vingt dix", one token a word).
"""

import numpy as np

from seqmodels.data import real
from seqmodels.data.tokenizers import WordTokenizer, as_text

EN_ONES = ("", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
           "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen")
EN_TENS = ("", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")
EN_ORDINALS = ("", "first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth",
               "eleventh", "twelfth", "thirteenth", "fourteenth", "fifteenth", "sixteenth", "seventeenth",
               "eighteenth", "nineteenth", "twentieth")
FR_UNITS = ("", "un", "deux", "trois", "quatre", "cinq", "six", "sept", "huit", "neuf", "dix", "onze", "douze",
            "treize", "quatorze", "quinze", "seize")
FR_TENS = {2: "vingt", 3: "trente", 4: "quarante", 5: "cinquante", 6: "soixante"}
MONTHS = (("january", "janvier"), ("february", "février"), ("march", "mars"), ("april", "avril"), ("may", "mai"),
          ("june", "juin"), ("july", "juillet"), ("august", "août"), ("september", "septembre"),
          ("october", "octobre"), ("november", "novembre"), ("december", "décembre"))
DAYS_IN_MONTH = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
# english singular, english plural, french singular, french plural, feminine
NOUNS = (("apple", "apples", "pomme", "pommes", True), ("cat", "cats", "chat", "chats", False),
         ("house", "houses", "maison", "maisons", True), ("book", "books", "livre", "livres", False),
         ("car", "cars", "voiture", "voitures", True), ("tree", "trees", "arbre", "arbres", False),
         ("bird", "birds", "oiseau", "oiseaux", False), ("flower", "flowers", "fleur", "fleurs", True),
         ("dog", "dogs", "chien", "chiens", False), ("table", "tables", "table", "tables", True),
         ("boat", "boats", "bateau", "bateaux", False), ("chair", "chairs", "chaise", "chaises", True),
         ("horse", "horses", "cheval", "chevaux", False), ("window", "windows", "fenêtre", "fenêtres", True))
# english, french (masculine singular, feminine singular, masculine plural, feminine plural)
SIZE_ADJECTIVES = (("small", ("petit", "petite", "petits", "petites")),
                   ("big", ("grand", "grande", "grands", "grandes")),
                   ("old", ("vieux", "vieille", "vieux", "vieilles")),
                   ("beautiful", ("beau", "belle", "beaux", "belles")))  # before the noun in both languages
COLOUR_ADJECTIVES = (("red", ("rouge", "rouge", "rouges", "rouges")),
                     ("white", ("blanc", "blanche", "blancs", "blanches")),
                     ("green", ("vert", "verte", "verts", "vertes")), ("black", ("noir", "noire", "noirs", "noires")),
                     ("blue", ("bleu", "bleue", "bleus", "bleues")), ("yellow", ("jaune", "jaune", "jaunes", "jaunes")))
MAX_NUMBER = 9999


def _check_number(n: int, low: int = 1, high: int = MAX_NUMBER) -> None:
    if not low <= n <= high:
        raise ValueError(f"expected a number in [{low}, {high}], got {n}")


def english_number(n: int) -> list[str]:
    """1..9999 in English words (American: no "and"): 342 -> three hundred forty two."""
    _check_number(n)
    words = []
    if n >= 1000:
        words += english_number(n // 1000) + ["thousand"]
        n %= 1000
    if n >= 100:
        words += [EN_ONES[n // 100], "hundred"]
        n %= 100
    if n >= 20:
        words.append(EN_TENS[n // 10])
        n %= 10
    return words + ([EN_ONES[n]] if n else [])


def french_number(n: int, feminine: bool = False) -> list[str]:
    """1..9999 in French words, hyphens dropped: 71 -> soixante et onze, 80 -> quatre vingts,
    200 -> deux cents, 203 -> deux cent trois; `feminine` agrees the final "un" (vingt et une pommes)."""
    _check_number(n)
    words = []
    if n >= 1000:
        words += (["mille"] if n // 1000 == 1 else french_number(n // 1000) + ["mille"])
        n %= 1000
    if n >= 100:
        plural = n // 100 > 1 and n % 100 == 0  # deux cents, deux cent trois
        words += ([] if n // 100 == 1 else [FR_UNITS[n // 100]]) + ["cents" if plural else "cent"]
        n %= 100
    if n == 0:
        return words
    if n >= 80:  # 4 x 20 (+ 0..19)
        return words + (["quatre", "vingts"] if n == 80 else ["quatre", "vingt"] + french_number(n - 80, feminine))
    if n >= 60:  # 60 (+ 0..19)
        rest = [] if n == 60 else (["et"] if n in (61, 71) else []) + french_number(n - 60, feminine)
        return words + ["soixante"] + rest
    if n >= 20:
        return words + [FR_TENS[n // 10]] + (["et"] if n % 10 == 1 else []) + (
            french_number(n % 10, feminine) if n % 10 else [])
    if n >= 17:
        return words + ["dix", FR_UNITS[n - 10]]
    return words + ["une" if n == 1 and feminine else FR_UNITS[n]]


def english_year(year: int) -> list[str]:
    """1900..2099: nineteen oh five, nineteen hundred, two thousand eight, twenty twenty four."""
    _check_number(year, 1900, 2099)
    high, low = divmod(year, 100)
    if high == 20 and low < 10:
        return english_number(year)
    return english_number(high) + (["hundred"] if low == 0 else ["oh"] + english_number(low) if low < 10
                                   else english_number(low))


def quantity(rng: np.random.Generator) -> tuple[list[str], list[str]]:
    """number [size adjective] [colour adjective] noun -> nombre [taille] nom [couleur], agreed."""
    scale = rng.choice([20, 99, 999, MAX_NUMBER], p=[0.3, 0.3, 0.25, 0.15])
    n = int(rng.integers(1, scale + 1))
    en_sg, en_pl, fr_sg, fr_pl, feminine = NOUNS[rng.integers(len(NOUNS))]
    form = (n > 1) * 2 + feminine  # index into an adjective's (m sg, f sg, m pl, f pl)
    size = SIZE_ADJECTIVES[rng.integers(len(SIZE_ADJECTIVES))] if rng.random() < 0.5 else None
    colour = COLOUR_ADJECTIVES[rng.integers(len(COLOUR_ADJECTIVES))] if rng.random() < 0.5 else None
    en = english_number(n) + ([size[0]] if size else []) + ([colour[0]] if colour else []) + [en_pl if n > 1 else en_sg]
    fr = (french_number(n, feminine) + ([size[1][form]] if size else []) + [fr_pl if n > 1 else fr_sg]
          + ([colour[1][form]] if colour else []))
    return en, fr


def date(rng: np.random.Generator) -> tuple[list[str], list[str]]:
    """on <month> <ordinal day> <year> -> le <day> <mois> <year in French>."""
    month = int(rng.integers(12))
    day = int(rng.integers(1, DAYS_IN_MONTH[month] + 1))
    year = int(rng.integers(1900, 2100))
    ordinal = ([EN_ORDINALS[day]] if day <= 20 else ["thirtieth"] if day == 30
               else [EN_TENS[day // 10], EN_ORDINALS[day % 10]])
    en = ["on", MONTHS[month][0]] + ordinal + english_year(year)
    fr = ["le"] + (["premier"] if day == 1 else french_number(day)) + [MONTHS[month][1]] + french_number(year)
    return en, fr


def sentence(rng: np.random.Generator, length: int, tries: int = 10) -> tuple[str, str]:
    """Items (3 quantities in 4, else a date) joined by ',' and a final 'and' / 'et': drawn until `length`
    source tokens are nearly filled (an item that does not fit is drawn again, `tries` times at most); the
    first item is kept whatever its length."""
    en_items, fr_items, used = [], [], -1  # -1: the first item needs no separator
    while used < length - 1 and tries > 0:
        en, fr = quantity(rng) if rng.random() < 0.75 else date(rng)
        if en_items and used + 1 + len(en) > length:
            tries -= 1
            continue
        en_items.append(en)
        fr_items.append(fr)
        used += 1 + len(en)

    def join(items, conjunction):
        words = list(items[0])
        for i, item in enumerate(items[1:], 1):
            words += ["," if i < len(items) - 1 else conjunction] + item
        return " ".join(words)

    return join(en_items, "and"), join(fr_items, "et")


def generate(seed: int, n: int, *, min_len: int = 3, max_len: int = 60) -> list[tuple[str, str]]:
    """n (english, french) pairs whose english length (tokens) is drawn uniformly in [min_len, max_len];
    a drawn sentence outside the range (one item longer than asked) is drawn again."""
    if not 2 <= min_len <= max_len:
        raise ValueError(f"generate: expected 2 <= min_len <= max_len, got min_len={min_len}, max_len={max_len}")
    if n < 0:
        raise ValueError(f"generate: expected n >= 0 sentences, got {n}")
    rng = np.random.default_rng(seed)
    pairs = []
    while len(pairs) < n:
        en, fr = sentence(rng, int(rng.integers(min_len, max_len + 1)))
        if min_len <= len(en.split()) <= max_len:
            pairs.append((en, fr))
    return pairs


def vocabularies() -> tuple[WordTokenizer, WordTokenizer]:
    """English and French WordTokenizers over every word the generator can write (ids fixed by the grammar,
    not by a sample)."""
    en = {*EN_ONES, *EN_TENS, *EN_ORDINALS, "thirtieth", "hundred", "thousand", "oh", "on", "and", ","}
    fr = {*FR_UNITS, *FR_TENS.values(), "une", "vingts", "cent", "cents", "mille", "et", "le", "premier", ","}
    for en_sg, en_pl, fr_sg, fr_pl, _ in NOUNS:
        en |= {en_sg, en_pl}
        fr |= {fr_sg, fr_pl}
    for english, french in SIZE_ADJECTIVES + COLOUR_ADJECTIVES:
        en.add(english)
        fr |= set(french)
    en |= {m[0] for m in MONTHS}
    fr |= {m[1] for m in MONTHS}
    return (WordTokenizer.build([" ".join(sorted(en - {""}))]), WordTokenizer.build([" ".join(sorted(fr - {""}))]))


def ted_hrlr_translate(split: str, *, pair: str = "pt_to_en", data_dir: str | None = None,
                       download: bool = False) -> list[tuple[str, str]]:
    """The (source, target) texts of TED talks (Qi et al. 2018), TFDS `ted_hrlr_translate/<pair>` (pairs
    such as pt_to_en, ru_to_en, az_to_en): prepared as ArrayRecord beforehand (real.DataNotFoundError says how)."""
    src, sep, tgt = pair.partition("_to_")
    if not (src and sep and tgt):
        raise ValueError(f"ted_hrlr_translate: pair must be '<src>_to_<tgt>' (e.g. 'pt_to_en'), got {pair!r}")
    source = real.data_source(f"ted_hrlr_translate/{pair}", split, data_dir=data_dir, download=download)
    return [(as_text(ex[src]), as_text(ex[tgt])) for ex in (source[i] for i in range(len(source)))]


__all__ = ["english_number", "french_number", "english_year", "quantity", "date", "sentence", "generate",
           "vocabularies", "ted_hrlr_translate"]
