"""The English -> French generator (numbers read back by independent parsers, agreement, word order, lengths)
and the TFDS TED loader under tfds.testing.mock_data."""

import numpy as np
import pytest
import tensorflow_datasets as tfds

from seqmodels.data import tokenizers, translation

EN_VALUES = {**{w: i for i, w in enumerate(translation.EN_ONES) if w}, **{w: 10 * i for i, w in
                                                                         enumerate(translation.EN_TENS) if w}}
FR_VALUES = {"un": 1, "une": 1, "deux": 2, "trois": 3, "quatre": 4, "cinq": 5, "six": 6, "sept": 7, "huit": 8,
             "neuf": 9, "dix": 10, "onze": 11, "douze": 12, "treize": 13, "quatorze": 14, "quinze": 15,
             "seize": 16, "trente": 30, "quarante": 40, "cinquante": 50, "soixante": 60}


def parse_english(words):
    total, part = 0, 0
    for w in words:
        if w == "thousand":
            total, part = total + part * 1000, 0
        elif w == "hundred":
            part *= 100
        else:
            part += EN_VALUES[w]
    return total + part


def parse_french(words):
    """Read French number words by their arithmetic: 'quatre vingt' multiplies, 'cent' and 'mille' scale."""
    total, part = 0, 0
    for w in words:
        if w == "mille":
            total, part = total + max(part, 1) * 1000, 0
        elif w in ("cent", "cents"):
            part = max(part, 1) * 100 if part < 100 else part  # "deux cent": 2 * 100
        elif w in ("vingt", "vingts"):
            part = part - part % 100 + (part % 100) * 20 if part % 100 == 4 else part + 20
        elif w != "et":
            part += FR_VALUES[w]
    return total + part


def test_numbers_read_back_to_their_value():
    for n in range(1, translation.MAX_NUMBER + 1):
        assert parse_english(translation.english_number(n)) == n
        assert parse_french(translation.french_number(n)) == n, (n, translation.french_number(n))


@pytest.mark.parametrize("n, french", [
    (21, "vingt et un"), (71, "soixante et onze"), (77, "soixante dix sept"), (80, "quatre vingts"),
    (81, "quatre vingt un"), (91, "quatre vingt onze"), (200, "deux cents"), (203, "deux cent trois"),
    (1000, "mille"), (1984, "mille neuf cent quatre vingt quatre"), (3080, "trois mille quatre vingts")])
def test_french_spelling_rules(n, french):
    assert " ".join(translation.french_number(n)) == french


def test_feminine_one_and_years():
    assert translation.french_number(41, feminine=True)[-1] == "une"
    assert translation.french_number(11, feminine=True) == ["onze"]
    assert [" ".join(translation.english_year(y)) for y in (1900, 1905, 1984, 2008, 2024)] == [
        "nineteen hundred", "nineteen oh five", "nineteen eighty four", "two thousand eight", "twenty twenty four"]
    with pytest.raises(ValueError, match=r"\[1, 9999\]"):
        translation.french_number(0)


def test_quantities_agree_and_reorder():
    rng = np.random.default_rng(0)
    colours = {fr: en for en, forms in translation.COLOUR_ADJECTIVES for fr in forms}
    nouns = {n[3 if plural else 2]: (n, plural) for n in translation.NOUNS for plural in (False, True)}
    for _ in range(500):
        en, fr = translation.quantity(rng)
        count = parse_english([w for w in en if w in EN_VALUES or w in ("hundred", "thousand")])
        assert parse_french([w for w in fr if w in FR_VALUES or w in ("et", "cent", "cents", "mille", "vingt",
                                                                    "vingts")]) == count
        noun_at = next(i for i, w in enumerate(fr) if w in nouns)
        (en_sg, en_pl, *_, feminine), plural = nouns[fr[noun_at]]
        assert en[-1] == (en_pl if count > 1 else en_sg) and plural == (count > 1)
        after = fr[noun_at + 1:]
        assert len(after) <= 1 and all(w in colours for w in after)  # colour after the noun, nothing else
        form = 2 * plural + feminine
        for english, forms in translation.SIZE_ADJECTIVES + translation.COLOUR_ADJECTIVES:
            if english in en:
                assert forms[form] in fr


def test_generate_is_seeded_uniform_in_length_and_covered_by_the_vocabulary():
    pairs = translation.generate(3, 600, min_len=3, max_len=60)
    assert pairs == translation.generate(3, 600, min_len=3, max_len=60) != translation.generate(4, 600)
    lengths = np.array([len(en.split()) for en, _ in pairs])
    assert lengths.min() >= 3 and lengths.max() <= 60
    assert np.all(np.histogram(lengths, bins=[3, 15, 27, 39, 51, 61])[0] > 0.1 * len(pairs))
    en_tok, fr_tok = translation.vocabularies()
    for en, fr in pairs:
        assert tokenizers.UNK_ID not in en_tok.encode(en) and tokenizers.UNK_ID not in fr_tok.encode(fr)
        assert en.count(" on ") + en.startswith("on ") == fr.count(" le ") + fr.startswith("le ")  # dates
        assert en.count(",") == fr.count(",")
    with pytest.raises(ValueError, match="min_len"):
        translation.generate(0, 3, min_len=10, max_len=5)


def test_ted_hrlr_translate_under_mock_data():
    with tfds.testing.mock_data(num_examples=4):
        pairs = translation.ted_hrlr_translate("train", pair="pt_to_en")
    assert len(pairs) == 4 and all(isinstance(s, str) and isinstance(t, str) for s, t in pairs)
    with pytest.raises(ValueError, match="<src>_to_<tgt>"):
        translation.ted_hrlr_translate("train", pair="portuguese")
