"""Text normalization: a table of cases, the offset map back to the original, and robustness."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from gateway.text.clean import words_with_offsets
from gateway.text.normalize import (
    OffsetMap,
    cardinal,
    date_words,
    decimal_words,
    normalize,
    ordinal,
    spell_characters,
    telephone_words,
    year_words,
)

CASES = [
    # numbers
    ("I have 5 gold.", "I have five gold."),
    ("42", "forty-two"),
    ("1999 gold", "one thousand nine hundred ninety-nine gold"),
    ("1,000,000 souls", "one million souls"),
    ("3.14", "three point one four"),
    ("It is -5 outside", "It is minus five outside"),
    ("+5 HP", "plus five H P"),
    ("007", "zero zero seven"),
    ("5-10", "five-ten"),
    ("24/7", "twenty-four/seven"),
    ("3/4 of them", "three quarters of them"),
    ("1/2", "one half"),
    ("#5", "number five"),
    ("No. 5", "Number five"),
    # ordinals
    ("1st", "first"),
    ("22nd", "twenty-second"),
    ("3rd place", "third place"),
    ("101st", "one hundred first"),
    # money
    ("Pay $5 now.", "Pay five dollars now."),
    ("$1", "one dollar"),
    ("It costs £3.50.", "It costs three pounds and fifty pence."),
    ("€2.99 only", "two euros and ninety-nine cents only"),
    ("$0.99", "ninety-nine cents"),
    ("-$5", "minus five dollars"),
    ("$2.5k", "two point five thousand dollars"),
    ("$5 million", "five million dollars"),
    ("¥100", "one hundred yen"),
    ("5€", "five euros"),
    ("10gp", "ten gold pieces"),
    ("5sp and 3cp", "five silver pieces and three copper pieces"),
    ("1 gp", "one gold piece"),
    ("50g", "fifty gold"),
    # times
    ("at 3:30pm", "at three thirty P M"),
    ("at 3 p.m. Then we go.", "at three P M. Then we go."),
    ("15:00", "fifteen hundred"),
    ("9:05", "nine oh five"),
    ("12:00", "twelve o'clock"),
    ("10:45 AM", "ten forty-five A M"),
    # dates
    ("2024-05-01", "May first twenty twenty-four"),
    ("1 May 2024", "the first of May twenty twenty-four"),
    ("May 1st, 2024", "May first, twenty twenty-four"),
    ("on 05/01/2024", "on May first twenty twenty-four"),
    ("25/12/2024", "December twenty-fifth twenty twenty-four"),
    ("in 1999", "in nineteen ninety-nine"),
    ("In May 2024 we", "In May twenty twenty-four we"),
    ("the 1990s", "the nineteen nineties"),
    ("2005 AD", "two thousand five AD"),
    # percentages
    ("50%", "fifty percent"),
    ("12.5%", "twelve point five percent"),
    ("-3%", "minus three percent"),
    # abbreviations
    ("Mr. Smith", "Mister Smith"),
    ("Mrs. Hudson", "Missus Hudson"),
    ("Dr. Smith", "Doctor Smith"),
    ("Ask Dr. Smith", "Ask Doctor Smith"),
    ("Elm Dr.", "Elm Drive."),
    ("Main St. Then left.", "Main Street. Then left."),
    ("St. John", "Saint John"),
    ("We visit St. Louis", "We visit Saint Louis"),
    ("apples, pears, etc. Then", "apples, pears, et cetera. Then"),
    ("pears, etc., and", "pears, et cetera, and"),
    ("e.g. this", "for example this"),
    ("i.e. that", "that is that"),
    ("red vs. blue", "red versus blue"),
    ("A & B", "A and B"),
    ("Capt. Rex", "Captain Rex"),
    # game units
    ("10k", "ten thousand"),
    ("3M", "three million"),
    ("2bn", "two billion"),
    ("x2", "times two"),
    ("2x damage", "two times damage"),
    ("lvl 5", "level five"),
    ("Lv.5", "Level five"),
    ("HP", "H P"),
    ("XP", "X P"),
    ("50HP", "fifty H P"),
    ("PvP AoE NPCs", "P V P A O E N P Cs"),
    ("60fps", "sixty F P S"),
    ("5 km", "five kilometers"),
    ("2.5 kg", "two point five kilograms"),
    ("20°C", "twenty degrees Celsius"),
    # left alone
    ("Hello there.", "Hello there."),
    ("R2D2", "R2D2"),
    ("v1.2.3", "v1.2.3"),
    ("R&D", "R&D"),
    ("No. I won't.", "No. I won't."),
    ("Level 5", "Level five"),
    ("MiXeD CaSe stays", "MiXeD CaSe stays"),
]


def test_table_is_big_enough():
    assert len(CASES) >= 40


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_case(text, expected):
    n = normalize(text)
    assert n.text == expected
    assert n.original == text
    _check_offsets(n)
    # normalizing again changes nothing: engines and aligner agree on the words
    assert normalize(n.text).text == n.text


def _check_offsets(n):
    assert len(n.offsets) == len(n.text)
    assert list(n.offsets.starts) == sorted(n.offsets.starts)
    assert list(n.offsets.ends) == sorted(n.offsets.ends)
    replaced = [(s, e) for s, e, _ in n.replacements]
    for word, ws, we in words_with_offsets(n.text):
        os_, oe = n.span_to_original(ws, we)
        assert 0 <= os_ < oe <= len(n.original), (word, os_, oe)
        touched = any(s < oe and os_ < e for s, e in replaced)
        if not touched:  # an untouched word maps onto itself
            assert n.original[os_:oe] == word
    # every replacement maps back exactly onto what it replaced
    for s, e, new in n.replacements:
        ns = n.to_normalized(s)
        assert n.text[ns: ns + len(new)] == new
        assert n.span_to_original(ns, ns + len(new)) == (s, e)


def test_offsets_point_at_original_words():
    n = normalize("It costs $3.50 today, Dr. Smith.")
    assert n.text == "It costs three dollars and fifty cents today, Doctor Smith."
    i = n.text.index("fifty")
    assert n.original_words(i, i + 5) == "$3.50"
    i = n.text.index("today")
    assert n.original_words(i, i + 5) == "today"
    i = n.text.index("Doctor")
    assert n.original_words(i, i + 6) == "Dr."
    i = n.text.index("Smith")
    assert n.to_original(i) == n.original.index("Smith")
    assert n.to_original(len(n.text)) == len(n.original)


def test_untouched_text_is_identity():
    text = "The quick brown fox; jumps over the lazy dog!"
    n = normalize(text)
    assert n.text == text and not n.changed
    assert all(n.to_original(i) == i for i in range(len(text) + 1))


def test_protected_and_boundaries():
    text = "Take 5 and 10 now"
    n = normalize(text, protected=[(5, 6)])
    assert n.text == "Take 5 and ten now"
    # a replacement never straddles a boundary
    for text, cut in (("It is $5 now", 7), ("Pay 10k now", 6), ("Meet Dr. Smith", 9)):
        n = normalize(text, boundaries=[cut])
        assert all(not (s < cut < e) for s, e, _ in n.replacements), n.replacements
        p = n.to_normalized(cut)
        assert n.to_original(p) == cut
    n = normalize("Meet Dr. Smith", boundaries=[9])  # context still crosses the boundary
    assert n.text == "Meet Doctor Smith"


def test_other_languages_untouched():
    assert normalize("3匹の猫", lang="ja").text == "3匹の猫"
    assert normalize("I have 3", lang="en-GB").text == "I have three"


def test_number_words():
    assert cardinal(123) == "one hundred twenty-three"
    assert cardinal("1,000") == "one thousand"
    assert cardinal("-12") == "minus twelve"
    assert cardinal(10**20) == "one " + " ".join(["zero"] * 20)
    assert ordinal(2) == "second"
    assert year_words(1905) == "nineteen oh five"
    assert year_words(2000) == "two thousand"
    assert decimal_words("0.50") == "zero point five zero"
    assert spell_characters("AB-12") == "A B one two"
    assert telephone_words("+1 555-0123") == "plus one, five five five, zero one two three"
    assert date_words(2024, 5, 1, day_first=True) == "the first of May twenty twenty-four"


def test_offset_map_compose():
    inner = normalize("$5 ok")  # "five dollars ok"
    outer = OffsetMap.from_pieces([(0, 2, 0, 5, True), (2, 5, 5, 8, False)], 5, 8)  # "$5 ok" <- "<abc> ok"
    both = inner.offsets.then(outer)
    assert both.span_to_original(0, 4) == (0, 5)
    assert both.span_to_original(13, 15) == (6, 8)


@hsettings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("0123456789 .,:;-+/$£€%#xkKMgpsth°CF&abcdeMrDSLvlHPX\n'")) ,
               max_size=60))
def test_random_text_never_crashes(text):
    n = normalize(text)
    assert isinstance(n.text, str)
    assert list(n.offsets.starts) == sorted(n.offsets.starts)
    for s, e, new in n.replacements:
        assert new and 0 <= s < e <= len(text)


@hsettings(max_examples=100, deadline=None)
@given(st.text(max_size=80))
def test_any_unicode_never_crashes(text):
    n = normalize(text)
    assert n.to_original(len(n.text)) == len(text)
