"""Cartesia's SSML-like tags: what each becomes in the script, what is refused (and with which code), and where
streamed text may be cut without splitting a tag."""

from __future__ import annotations

import pytest

from voicesmith.engine.markup import Delivery, MarkupError, Pause, Speech, open_tail, parse, spelled_words


def test_text_without_tags_is_one_part():
    script = parse("Hello there, 3 < 4 and a <-> b.")
    assert script.parts == (Speech("Hello there, 3 < 4 and a <-> b."),)
    assert script.billable_chars == len("Hello there, 3 < 4 and a <-> b.")


@pytest.mark.parametrize(("tag", "seconds"), [
    ('<break time="1s"/>', 1.0), ('<break time="500ms"/>', 0.5), ("<break time='1.5s'/>", 1.5),
    ('<break time="250 ms">', 0.25), ('<BREAK TIME="2S"/>', 2.0), ('<break time="0s"/>', 0.0),
])
def test_break_is_a_pause(tag, seconds):
    script = parse(f"Hello {tag} there.")
    assert script.parts == (Speech("Hello "), Pause(seconds), Speech(" there."))
    assert script.billable_chars == len("Hello ") + 1 + len(" there.")  # a break bills as one character


def test_spell_speed_volume_emotion():
    script = parse('Code <spell>AB-12</spell> now. <speed ratio="1.2"/><volume ratio="0.8"/>Faster, '
                   '<emotion value="Excited"/>and softer.')
    slow_loud = Delivery()
    fast_soft = Delivery(speed=1.2, volume=0.8)
    assert script.parts == (
        Speech("Code ", slow_loud), Speech("AB-12", slow_loud, spell=True), Speech(" now. ", slow_loud),
        Speech("Faster, and softer.", fast_soft),  # an emotion tag alone does not cut the phrase
    )
    assert script.delivery_after == Delivery(1.2, 0.8, "excited")
    assert parse("and after", script.delivery_after).parts == (Speech("and after", Delivery(1.2, 0.8, "excited")),)


def test_spelled_words_say_each_character_and_keep_the_word():
    assert spelled_words("AB-12 x", "en") == [("AB-12", "ay bee one two"), ("x", "ex")]
    assert spelled_words("a3", "es") == [("a3", "a tres")]


@pytest.mark.parametrize(("text", "code", "names"), [
    ("<pause/>", "unknown_tag", "<pause/>"),
    ("Hi <b>there</b>", "unknown_tag", "<b>"),
    ("<break/>", "invalid_tag", "time"),
    ('<break time="1"/>', "invalid_tag", "500ms"),
    ('<break time="11s"/>', "invalid_tag", "10 s"),
    ('<break time="1s" extra="x"/>', "invalid_tag", "extra"),
    ('<break time=1s/>', "invalid_tag", "name=\"value\""),
    ('<break time="1s"', "invalid_tag", "Malformed"),
    ('<speed ratio="2"/>', "invalid_tag", "0.6"),
    ('<volume ratio="loud"/>', "invalid_tag", "0.5"),
    ('<emotion value="grumpy-ish"/>', "invalid_tag", "grumpy-ish"),
    ("<spell>AB", "invalid_tag", "never closed"),
    ("AB</spell>", "invalid_tag", "without an opening"),
    ("<spell>A<spell>B</spell></spell>", "invalid_tag", "nested"),
    ('<spell>A<break time="1s"/></spell>', "invalid_tag", "inside <spell>"),
    ("</break>", "invalid_tag", "self-closing"),
])
def test_bad_tags_are_refused_with_a_code_and_a_reason(text, code, names):
    with pytest.raises(MarkupError) as info:
        parse(text)
    assert info.value.code == code
    assert names in info.value.message


def test_open_tail_holds_unfinished_tags():
    assert open_tail("Hello there") == len("Hello there")
    assert open_tail('Hello <break ti') == len("Hello ")
    assert open_tail('Hello <break time="1s"/> the') == len('Hello <break time="1s"/> the')
    assert open_tail("Say <spell>AB") == len("Say ")
    assert open_tail("Say <spell>AB</spe") == len("Say ")
    assert open_tail("Say <spell>AB</spell> ok") == len("Say <spell>AB</spell> ok")
    assert open_tail("3 < 4") == len("3 < 4")
