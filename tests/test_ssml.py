"""SSML subset parser (allow-list, limits, hostile documents) and segment planning."""

from __future__ import annotations

import time
from xml.sax.saxutils import escape, quoteattr

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from gateway.core.segments import NEUTRAL, Prosody
from gateway.text.clean import clean_text, split_sentences
from gateway.text.plan import plan_segments
from gateway.text.ssml import ALLOWED_ELEMENTS, Limits, SsmlError, is_ssml, parse_ssml

MSTTS = 'xmlns:mstts="http://www.w3.org/2001/mstts"'


def speak(body: str, attrs: str = "") -> str:
    return f"<speak{(' ' + attrs) if attrs else ''}>{body}</speak>"


# ---------------------------------------------------------------------------------------------
# detection


@pytest.mark.parametrize(("text", "expected"), [
    ("<speak>hi</speak>", True),
    ("  \n<speak version='1.0'>hi</speak>", True),
    ('<?xml version="1.0"?>\n<speak>hi</speak>', True),
    ("\ufeff<speak/>", True),
    ("<!-- c --><speak>x</speak>", True),
    ("<!DOCTYPE x [<!ENTITY a 'b'>]><speak>&a;</speak>", True),
    ("<speaker>hi</speaker>", False),
    ("Hello <speak>", False),
    ("hello", False),
    ("", False),
])
def test_is_ssml(text, expected):
    assert is_ssml(text) is expected


# ---------------------------------------------------------------------------------------------
# elements


def test_plain_speak_folds_whitespace_like_clean_text():
    p = parse_ssml(speak("  Hello ,\n  world &amp; you!  "))
    assert p.text == "Hello, world & you!"
    assert p.written == p.text
    assert len(p.runs) == 1 and p.runs[0].prosody == NEUTRAL


def test_break_time_and_strength():
    p = parse_ssml(speak('One.<break time="500ms"/> Two.<break time="1.5s"/>Three<break strength="x-strong"/>'
                         '<break/>four<break strength="none"/> five'))
    assert p.text == "One. Two. Three four five"
    assert [(r.text, r.break_before_ms) for r in p.runs] == [("One.", 0), ("Two.", 500), ("Three", 1500),
                                                             ("four five", 2000)]
    assert parse_ssml(speak('Hi<break time="2s"/>')).trailing_break_ms == 2000


def test_emphasis_and_prosody_nest():
    p = parse_ssml(speak('<prosody rate="80%" volume="+6dB" pitch="+2st">slow <prosody rate="slow" pitch="-1st" '
                         'volume="-2dB">slower</prosody></prosody> <emphasis level="strong">now</emphasis> '
                         '<emphasis level="none">plain</emphasis>'))
    by_text = {r.text.strip(): r.prosody for r in p.runs}
    assert by_text["slow"] == Prosody(rate=0.8, volume_db=6.0, pitch_semitones=2.0)
    assert by_text["slower"] == Prosody(rate=0.64, volume_db=4.0, pitch_semitones=1.0)
    assert by_text["now"].emphasis == "strong"
    assert by_text["plain"] == NEUTRAL


@pytest.mark.parametrize(("attr", "field", "value"), [
    ('rate="x-fast"', "rate", 1.5), ('rate="+10%"', "rate", 1.1), ('rate="0.9"', "rate", 0.9),
    ('rate="50%"', "rate", 0.5), ('pitch="high"', "pitch_semitones", 2.0), ('pitch="-10%"', "pitch_semitones", -1.824),
    ('pitch="+3st"', "pitch_semitones", 3.0), ('volume="loud"', "volume_db", 6.0),
    ('volume="-50%"', "volume_db", -6.021), ('volume="50"', "volume_db", -6.021), ('volume="x-soft"', "volume_db", -12),
])
def test_prosody_values(attr, field, value):
    p = parse_ssml(speak(f"<prosody {attr}>x</prosody>"))
    assert getattr(p.runs[0].prosody, field) == pytest.approx(value, abs=1e-3)


def test_prosody_out_of_range_is_clamped_with_warning():
    p = parse_ssml(speak('<prosody rate="900%">x</prosody>'))
    assert p.runs[0].prosody.rate == 2.0 and p.warnings


def test_say_as_sub_phoneme():
    p = parse_ssml(speak('<say-as interpret-as="characters">NPC</say-as> number <say-as interpret-as="cardinal">'
                         '1,234</say-as> <say-as interpret-as="ordinal">3</say-as> on <say-as interpret-as="date" '
                         'format="dmy">1/5/2024</say-as>, call <say-as interpret-as="telephone">555-0199</say-as>. '
                         '<sub alias="Doctor">Dr.</sub> <phoneme alphabet="ipa" ph="ˈzɔɹɡ">Zorg</phoneme>'))
    assert p.text == ("N P C number one thousand two hundred thirty-four third on the first of May twenty twenty-four,"
                      " call five five five, zero one nine nine. Doctor Zorg")
    assert p.written == "NPC number 1,234 3 on 1/5/2024, call 555-0199. Dr. Zorg"
    zorg = [r for r in p.runs if r.phoneme_ipa][0]
    assert (zorg.text, zorg.phoneme_ipa) == ("Zorg", "ˈzɔɹɡ")
    say = [r for r in p.runs if r.say_as][0]
    assert say.say_as.interpret_as == "characters" and say.written == "NPC"
    # spoken offsets map back onto what was written
    i = p.text.index("Doctor")
    s, e = p.offsets.span_to_original(i, i + len("Doctor"))
    assert p.written[s:e] == "Dr."
    i = p.text.index("thirty-four")
    s, e = p.offsets.span_to_original(i, i + len("thirty-four"))
    assert p.written[s:e] == "1,234"


def test_say_as_unreadable_content_is_read_as_written():
    p = parse_ssml(speak('<say-as interpret-as="cardinal">many</say-as>'))
    assert p.text == "many" and p.warnings


def test_emotion_and_express_as():
    p = parse_ssml(speak('<emotion name="friendly" intensity="0.5">Hi</emotion> '
                         '<mstts:express-as style="terrified" styledegree="0.6">run</mstts:express-as>', MSTTS))
    assert [(r.text.strip(), r.prosody.emotion, r.prosody.intensity) for r in p.runs] == [
        ("Hi", "happy", 0.5), ("run", "fearful", 0.6)]


def test_express_as_https_namespace_and_undeclared_prefix():
    p = parse_ssml(speak('<mstts:express-as style="sad">x</mstts:express-as>',
                         'xmlns:mstts="https://www.w3.org/2001/mstts"'))
    assert p.runs[0].prosody.emotion == "sad"
    p = parse_ssml(speak('<mstts:express-as style="angry">x</mstts:express-as>'))  # undeclared: accepted
    assert p.runs[0].prosody.emotion == "angry"


def test_azure_document_with_voice_and_namespace():
    doc = ('<speak version="1.0" xmlns="http://www.w3.org/2001/10/synthesis" '
           'xmlns:mstts="https://www.w3.org/2001/mstts" xml:lang="en-US"><voice name="en-US-JennyNeural">'
           '<mstts:express-as style="cheerful" styledegree="2">That would be just amazing!</mstts:express-as>'
           '</voice></speak>')
    p = parse_ssml(doc)
    assert p.text == "That would be just amazing!"
    assert p.runs[0].prosody.emotion == "happy" and p.runs[0].prosody.intensity == 1.0
    assert p.lang == "en-US"
    assert any("voice" in w for w in p.warnings)


def test_p_and_s_are_boundaries():
    p = parse_ssml(speak("<p><s>First one</s><s>second one</s></p><p>Third</p>"))
    assert p.text == "First one second one Third"
    assert [r.boundary_before for r in p.runs] == [True, True, True]


# ---------------------------------------------------------------------------------------------
# rejection


@pytest.mark.parametrize(("doc", "element"), [
    (speak("<audio src='x.wav'/>"), "audio"),
    (speak("<foo>bar</foo>"), "foo"),
    (speak("<mark name='x'/>"), "mark"),
    ("<speak><speak>x</speak></speak>", "speak"),
    ("<root>x</root>", "root"),
    (speak('<break time="abc"/>'), "break"),
    (speak('<break strength="loud"/>'), "break"),
    (speak('<break time="500ms" foo="1"/>'), "break"),
    (speak('<emphasis level="huge">x</emphasis>'), "emphasis"),
    (speak('<prosody rate="fastest">x</prosody>'), "prosody"),
    (speak('<prosody pitch="200Hz">x</prosody>'), "prosody"),
    (speak('<say-as interpret-as="currency">5</say-as>'), "say-as"),
    (speak('<say-as interpret-as="date" format="qq">5</say-as>'), "say-as"),
    (speak("<sub>x</sub>"), "sub"),
    (speak('<phoneme alphabet="x-sampa" ph="t@">x</phoneme>'), "phoneme"),
    (speak("<phoneme>x</phoneme>"), "phoneme"),
    (speak('<emotion name="ecstatic">x</emotion>'), "emotion"),
    (speak("<emotion>x</emotion>"), "emotion"),
    (speak('<mstts:express-as style="poetry-reading-backwards">x</mstts:express-as>', MSTTS), "mstts:express-as"),
    (speak('<mstts:silence type="Leading" value="1s"/>', MSTTS), "mstts:silence"),
    (speak('<x:foo xmlns:x="urn:evil">y</x:foo>'), "x:foo"),
    (speak('<sub alias="a"><break/>x</sub>'), "break"),
    (speak('<script>alert(1)</script>'), "script"),
])
def test_disallowed_is_an_error_naming_the_element(doc, element):
    with pytest.raises(SsmlError) as info:
        parse_ssml(doc)
    assert info.value.element == element
    assert element.split(":")[-1] in str(info.value)


@pytest.mark.parametrize("doc", [
    "<speak>unclosed", "<speak><b></speak>", "<speak>&undefined;</speak>", "<speak>a\x00b</speak>", "<speak",
])
def test_malformed_is_an_error(doc):
    with pytest.raises(SsmlError):
        parse_ssml(doc)


def test_lenient_strips_unknown_elements_to_text():
    p = parse_ssml(speak('Hello <foo bar="1">big</foo> <emphasis weird="x">world</emphasis>'
                         '<break time="soon"/>!'), lenient=True)
    assert p.text == "Hello big world!"
    assert len(p.warnings) == 3
    p = parse_ssml("<speak>broken <b>markup</speak>", lenient=True)
    assert p.text == "broken markup" and p.warnings


# ---------------------------------------------------------------------------------------------
# hostile documents: entity expansion and external entities are impossible


BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<speak>&lol9;</speak>"""

HOSTILE = [
    BILLION_LAUGHS,
    '<!DOCTYPE speak [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><speak>&xxe;</speak>',
    '<!DOCTYPE speak [<!ENTITY xxe SYSTEM "http://127.0.0.1:1/x">]><speak>&xxe;</speak>',
    '<!DOCTYPE speak [<!ENTITY % p SYSTEM "file:///etc/passwd"> %p;]><speak>x</speak>',
    '<!DOCTYPE speak SYSTEM "http://127.0.0.1:1/evil.dtd"><speak>x</speak>',
    '<!DOCTYPE speak PUBLIC "-//X//Y" "file:///etc/passwd"><speak>x</speak>',
    '<!DOCTYPE speak [<!ENTITY a "aaaaaaaaaa">]><speak>&a;&a;&a;&a;</speak>',
    '<!DOCTYPE speak [<!NOTATION n SYSTEM "x"><!ENTITY e SYSTEM "y" NDATA n>]><speak>x</speak>',
    '<?xml version="1.0"?><!DOCTYPE speak><speak>x</speak>',
]


@pytest.mark.parametrize("doc", HOSTILE)
@pytest.mark.parametrize("lenient", [False, True])
def test_dtd_and_entities_are_rejected(doc, lenient):
    t0 = time.perf_counter()
    with pytest.raises(SsmlError) as info:
        parse_ssml(doc, lenient=lenient)
    assert time.perf_counter() - t0 < 0.5
    assert info.value.element in ("!DOCTYPE", "!ENTITY", "!NOTATION")
    assert is_ssml(doc)


def test_plan_rejects_hostile_documents_too():
    with pytest.raises(SsmlError):
        plan_segments(BILLION_LAUGHS, lenient=True)


def test_predefined_entities_and_char_refs_work():
    assert parse_ssml(speak("a &lt; b &amp;&#x41;&#66;")).text == "a < b &AB"


def test_escaped_markup_is_not_passed_on():
    assert parse_ssml(speak("say &lt;break time='9s'/&gt; this")).text == "say this"


# ---------------------------------------------------------------------------------------------
# limits (errors even in lenient mode)


@pytest.mark.parametrize("lenient", [False, True])
def test_limits(lenient):
    lim = Limits()
    deep = "<speak>" + "<emphasis>" * lim.max_depth + "x" + "</emphasis>" * lim.max_depth + "</speak>"
    with pytest.raises(SsmlError, match="deeper"):
        parse_ssml(deep, lenient=lenient)
    very_deep = "<speak>" + "<p>" * 100_000
    with pytest.raises(SsmlError, match="deeper"):
        parse_ssml(very_deep[: lim.max_chars], lenient=lenient)
    many = speak("<s>x</s>" * lim.max_elements)
    with pytest.raises(SsmlError, match="elements"):
        parse_ssml(many, lenient=lenient)
    with pytest.raises(SsmlError, match="longer than"):
        parse_ssml(speak("a" * lim.max_chars), lenient=lenient)
    with pytest.raises(SsmlError, match="break") as info:
        parse_ssml(speak('<break time="11s"/>'), lenient=lenient)
    assert info.value.element == "break"
    with pytest.raises(SsmlError, match="add up"):
        parse_ssml(speak('<break time="10s"/>' * 7), lenient=lenient)
    ok = "<speak>" + "<emphasis>" * (lim.max_depth - 1) + "x" + "</emphasis>" * (lim.max_depth - 1) + "</speak>"
    assert parse_ssml(ok, lenient=lenient).text == "x"


def test_custom_limits():
    with pytest.raises(SsmlError):
        parse_ssml(speak('<break time="3s"/>x'), limits=Limits(max_break_ms=2000))


# ---------------------------------------------------------------------------------------------
# property tests

_XML_CHARS = st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00\ufffe\uffff"
                           + "".join(chr(c) for c in range(1, 32) if chr(c) not in "\t\n\r"))
_ALLOWED = ["break", "emphasis", "prosody", "say-as", "sub", "phoneme", "emotion", "p", "s", "voice",
            "mstts:express-as"]
_UNKNOWN = ["audio", "foo", "mark", "lang", "desc", "script", "mstts:silence", "x:y", "speak", "SPEAK", "Break"]
_ATTR_NAMES = ["time", "strength", "level", "rate", "pitch", "volume", "interpret-as", "format", "alias", "alphabet",
               "ph", "name", "intensity", "style", "styledegree", "role", "bogus", "xml:lang", "src"]
_ATTR_VALUES = st.sampled_from(["500ms", "1s", "20s", "strong", "weak", "x-loud", "+2st", "-10%", "80%", "0.5",
                                "ipa", "happy", "cheerful", "sad", "nope", "characters", "cardinal", "date",
                                "telephone", "ordinal", "mdy", "", "NaN", "1e309", "-1", "-1e400s", "tə"]) | st.text(
    alphabet=_XML_CHARS, max_size=12)
_TEXT = st.text(alphabet=_XML_CHARS, max_size=20) | st.sampled_from(["5", "$3.50", "Dr. Smith", "1st", " ", ". "])


@st.composite
def documents(draw, names=_ALLOWED + _UNKNOWN, depth=0):
    parts = []
    for _ in range(draw(st.integers(0, 4))):
        kind = draw(st.sampled_from(["text", "text", "elem"] if depth < 4 else ["text"]))
        if kind == "text":
            parts.append(escape(draw(_TEXT)))
        else:
            name = draw(st.sampled_from(names))
            attrs = draw(st.dictionaries(st.sampled_from(_ATTR_NAMES), _ATTR_VALUES, max_size=3))
            attr_text = "".join(f" {k}={quoteattr(v)}" for k, v in attrs.items())
            inner = draw(documents(names=names, depth=depth + 1))
            parts.append(f"<{name}{attr_text}>{inner}</{name}>")
    return "".join(parts)


def _wrap(body: str) -> str:
    return f'<speak xmlns:mstts="http://www.w3.org/2001/mstts" xmlns:x="urn:x">{body}</speak>'


def _unknown_used(body: str) -> bool:
    return any(f"<{u}" in body and (f"<{u} " in body or f"<{u}>" in body) for u in _UNKNOWN)


@hsettings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=documents(), lenient=st.booleans())
def test_random_documents_only_raise_ssml_error(body, lenient):
    doc = _wrap(body)
    try:
        parsed = parse_ssml(doc, lenient=lenient)
    except SsmlError as exc:
        assert exc.message
        return
    # an unknown element never gets through a strict parse
    if not lenient:
        assert not _unknown_used(body), body
    assert "<" not in parsed.text or "&lt;" in body
    for run in parsed.runs:
        assert parsed.text[run.char_start: run.char_end] == run.text
    plan = plan_segments(doc, lenient=lenient)
    for seg in plan.segments:
        assert plan.text[seg.char_start: seg.char_start + len(seg.text)] == seg.text


@hsettings(max_examples=300, deadline=None)
@given(raw=st.text(max_size=300) | st.sampled_from(HOSTILE) | st.builds(
    lambda a, b: a + b, st.sampled_from(["<speak>", "<speak><p>", "<!DOCTYPE speak [", "<speak>&", "<?xml "]),
    st.text(max_size=100)), lenient=st.booleans())
def test_arbitrary_strings_only_raise_ssml_error(raw, lenient):
    try:
        parse_ssml(raw, lenient=lenient)
    except SsmlError:
        pass


_XML_TEXT = st.text(alphabet=_XML_CHARS, max_size=200)


@hsettings(max_examples=300, deadline=None)
@given(text=_XML_TEXT)
def test_random_text_round_trips(text):
    parsed = parse_ssml(speak(escape(text)))
    assert parsed.text == clean_text(text)
    assert parsed.written == parsed.text


@hsettings(max_examples=100, deadline=None)
@given(body=documents(names=_ALLOWED))
def test_lenient_never_fails_on_allowed_elements_with_bad_values(body):
    try:
        parsed = parse_ssml(_wrap(body), lenient=True)
    except SsmlError as exc:  # only limits and nesting rules remain errors
        assert any(k in exc.message for k in ("break", "deeper", "elements", "longer", "root"))
        return
    assert isinstance(parsed.text, str)


def test_allow_list_is_documented():
    assert ALLOWED_ELEMENTS == {"speak", "p", "s", "break", "emphasis", "prosody", "say-as", "sub", "phoneme",
                                "emotion", "mstts:express-as", "voice"}


# ---------------------------------------------------------------------------------------------
# plan_segments


REGRESSION_TEXTS = [
    "Hello there. How are you today? I'm fine!",
    "Well... that was odd.   \n\n  Next line\tplease.",
    "\"Quoted.\" (Parenthetical.) Trailing",
    "A sentence, with clauses; and more: yes — indeed.",
    "",
    "   ",
    "No sentence end",
    "Wait… what?! Really.",
    "<b>Tags</b> are stripped. So is \x00 control.",
]


@pytest.mark.parametrize("text", REGRESSION_TEXTS)
def test_plain_text_gives_the_same_segments_as_before(text):
    plan = plan_segments(text)
    assert plan.text == clean_text(text)
    assert plan.segments == split_sentences(clean_text(text))
    assert not plan.ssml and plan.break_after_ms == 0 and not plan.warnings


@hsettings(max_examples=200, deadline=None)
@given(text=st.text(max_size=200).filter(lambda t: not is_ssml(t)))
def test_plain_text_regression_property(text):
    plan = plan_segments(text, normalize_text=False)
    assert plan.segments == split_sentences(clean_text(text))
    from gateway.text.normalize import normalize

    plan = plan_segments(text)
    assert plan.segments == split_sentences(normalize(clean_text(text)).text)


def test_plain_text_is_normalized_and_maps_back():
    plan = plan_segments("Dr. Smith paid $5. Then he left.")
    assert [s.text for s in plan.segments] == ["Doctor Smith paid five dollars.", "Then he left."]
    assert plan.display == "Dr. Smith paid $5. Then he left."
    i = plan.text.index("dollars")
    s, e = plan.display_span(i, i + 7)
    assert plan.display[s:e] == "$5"


def test_request_emotion_applies_where_ssml_sets_none():
    plan = plan_segments("Hi there. Bye.", emotion="friendly", intensity=0.4)
    assert {s.prosody for s in plan.segments} == {Prosody(emotion="happy", intensity=0.4)}
    plan = plan_segments(speak('One. <emotion name="sad">Two.</emotion> Three.'), emotion="angry")
    assert [s.prosody.emotion for s in plan.segments] == ["angry", "sad", "angry"]
    with pytest.raises(ValueError):
        plan_segments("x", emotion="ecstatic")
    assert plan_segments("x", emotion="ecstatic", lenient=True).warnings


def test_breaks_and_prosody_split_segments():
    plan = plan_segments(speak('Hello there.<break time="500ms"/> I <emphasis level="strong">really</emphasis> '
                               'want <prosody rate="slow">this one</prosody>, ok? <break time="1s"/>'))
    got = [(s.index, s.text, s.break_before_ms, s.prosody.emphasis, s.prosody.rate) for s in plan.segments]
    assert got == [
        (0, "Hello there.", 0, None, 1.0),
        (1, "I", 500, None, 1.0),
        (2, "really", 0, "strong", 1.0),
        (3, "want", 0, None, 1.0),
        (4, "this one,", 0, None, 0.8),
        (5, "ok?", 0, None, 1.0),
    ]
    assert plan.break_after_ms == 1000
    for s in plan.segments:
        assert plan.text[s.char_start: s.char_start + len(s.text)] == s.text


def test_break_inside_a_sentence_splits_it():
    plan = plan_segments(speak('Get out<break time="1s"/>now!'))
    assert [(s.text, s.break_before_ms) for s in plan.segments] == [("Get out", 0), ("now!", 1000)]


def test_leading_break_and_punctuation_only_pieces():
    plan = plan_segments(speak('<break time="300ms"/><emphasis>Wow</emphasis>!'))
    assert [(s.text, s.break_before_ms, s.prosody.emphasis) for s in plan.segments] == [("Wow!", 300, "moderate")]


def test_s_elements_force_segments():
    plan = plan_segments(speak("<s>no full stop here</s><s>nor here</s>"))
    assert [s.text for s in plan.segments] == ["no full stop here", "nor here"]


def test_sub_and_phoneme_in_plan():
    plan = plan_segments(speak('<sub alias="Mister">Mr.</sub> <phoneme ph="ˈzɔɹɡ">Zorg</phoneme> has 5 HP.'))
    assert plan.text == "Mister Zorg has five H P."
    assert plan.display == "Mr. Zorg has 5 HP."
    hint = plan.phonemes[0]
    assert plan.text[hint.char_start:hint.char_end] == "Zorg" and hint.ipa == "ˈzɔɹɡ"
    i = plan.text.index("Mister")
    assert plan.display[slice(*plan.display_span(i, i + 6))] == "Mr."


def test_phoneme_content_is_not_normalized():
    plan = plan_segments(speak('<phoneme ph="ɑːɹtuːdiːtuː">R2 D2</phoneme> and 2'))
    assert plan.text == "R2 D2 and two"


def test_non_english_is_not_normalized():
    assert plan_segments("I have 3 cats.", lang="ja").text == "I have 3 cats."
    assert plan_segments(speak("3 cats", 'xml:lang="de-DE"')).text == "3 cats"
