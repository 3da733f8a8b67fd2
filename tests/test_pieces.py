"""Long sentences are cut into pieces of bounded length (clause, then phrase, then word), exactly and in linear
time."""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.core.segments import Prosody, Segment
from gateway.text.pieces import bounded_pieces


def check(segment: Segment, pieces: list[Segment], max_chars: int, first: int) -> None:
    """Every piece is the segment's text at its offset, within its limit, and nothing but whitespace is lost."""
    for k, piece in enumerate(pieces):
        local = piece.char_start - segment.char_start
        assert segment.text[local:local + len(piece.text)] == piece.text
        assert len(piece.text) <= (first if k == 0 else max_chars)
        assert piece.index == segment.index and piece.prosody == segment.prosody
    assert "".join("".join(p.text for p in pieces).split()) == "".join(segment.text.split())
    assert all(a.char_start + len(a.text) <= b.char_start for a, b in itertools.pairwise(pieces))


def test_short_segment_is_one_piece():
    seg = Segment(3, "Hello there.", 10)
    assert bounded_pieces(seg, 180, 80) == [seg]


def test_clause_before_phrase_before_word():
    text = ("we walked along the river for hours and hours, the sun was setting behind the hills "
            "and the birds were singing in the trees above us while we talked about nothing at all")
    pieces = bounded_pieces(Segment(0, text, 0), max_chars=100)
    assert pieces[0].text.endswith("hours,")  # the clause boundary wins over the phrase words inside it
    no_clause = text.replace(",", "")
    pieces = bounded_pieces(Segment(0, no_clause, 0), max_chars=60)
    assert all(p.text.split()[0] in ("and", "while", "for", "about", "behind", "in", "the", "we") for p in pieces)
    assert any(p.text.startswith(("and ", "while ")) for p in pieces[1:])
    check(Segment(0, no_clause, 0), pieces, 60, 60)
    words = " ".join(["lorem"] * 40)
    pieces = bounded_pieces(Segment(0, words, 0), max_chars=50)
    assert all(p.text.replace("lorem", "").strip(" ") == "" for p in pieces) and len(pieces) == 5


def test_first_piece_is_tighter_and_break_stays_with_it():
    text = " ".join(f"word{i}" for i in range(200))
    seg = Segment(2, text, 40, Prosody(volume_db=3.0), break_before_ms=300)
    pieces = bounded_pieces(seg, 180, 80)
    check(seg, pieces, 180, 80)
    assert len(pieces[0].text) <= 80 < max(len(p.text) for p in pieces)
    assert [p.break_before_ms for p in pieces] == [300] + [0] * (len(pieces) - 1)


def test_one_enormous_word_is_cut_at_the_limit():
    seg = Segment(0, "x" * 1000, 0)
    pieces = bounded_pieces(seg, 180, 80)
    assert [len(p.text) for p in pieces] == [80, 180, 180, 180, 180, 180, 20]


def test_ipa_hints_are_never_cut_and_move_with_their_piece():
    text = "a " * 60 + "Brannoc " + "b " * 60
    start = text.index("Brannoc")
    seg = Segment(0, text.strip(), 0, ipa=((start, start + 7, "bɹˈænək"),))
    for limit in range(40, 130, 7):
        pieces = bounded_pieces(seg, limit)
        holder = [p for p in pieces if "Brannoc" in p.text]
        assert len(holder) == 1
        s = holder[0].text.index("Brannoc")
        assert holder[0].ipa == ((s, s + 7, "bɹˈænək"),)


def test_a_megabyte_of_unpunctuated_text_is_cut_linearly():
    """Issue 12 #1: splitting must not be quadratic. One pass over 1 MB of words (pytest-timeout would catch a
    quadratic cut: it took ~14 s on the WebSocket path)."""
    text = ("lorem ipsum dolor sit amet " * 40000)[:1_000_000].strip()
    pieces = bounded_pieces(Segment(0, text, 0), 180, 80)
    assert len(pieces) > 1_000_000 // 180
    assert max(len(p.text) for p in pieces) <= 180


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(["a", "bc", "xyzzy", " ", ",", ";", ".", " and ", " which ", "—", "\n"]),
                max_size=300),
       st.integers(40, 200), st.integers(20, 120))
def test_any_text_is_cut_exactly(parts, max_chars, first):
    text = "".join(parts).strip()
    if not text:
        return
    seg = Segment(0, text, 7)
    check(seg, bounded_pieces(seg, max_chars, first), max_chars, first)
