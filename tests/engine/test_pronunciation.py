"""Pronunciation dictionaries in the engine: validating items, matching words and phrases (case rules, punctuation),
sound-alike and IPA aliases reaching the phoneme string, and timestamps that name the written words."""

from __future__ import annotations

import pytest

from voicesmith.engine import markup
from voicesmith.engine.phonemes import ipa_to_kokoro, phonemize_words
from voicesmith.engine.pronunciation import Lexicon, PronunciationError, make_entry
from voicesmith.engine.stock import stock_voices
from voicesmith.engine.synthesis import get_synthesizer
from voicesmith.engine.text import normalize_words


def said(lexicon: Lexicon, text: str) -> list[tuple[str, str]]:
    return lexicon.apply(normalize_words(text, "en"))


def test_sound_alike_and_phrases_replace_whole_words_keeping_punctuation():
    lexicon = Lexicon([make_entry("Nguyen", "win"), make_entry("New York", "noo york city"),
                       make_entry("York", "yorick")])
    assert said(lexicon, "Nguyen, from New York. York!") == [
        ("Nguyen,", "win,"), ("from", "from"), ("New York.", "noo york city."), ("York!", "yorick!")]
    assert said(lexicon, "Nguyenville") == [("Nguyenville", "Nguyenville")]  # whole words only


def test_case_rules():
    loose = Lexicon([make_entry("sql", "sequel")])
    assert said(loose, "SQL and Sql") == [("SQL", "sequel"), ("and", "and"), ("Sql", "sequel")]
    strict = Lexicon([make_entry("sql", "sequel", case_sensitive=True)])
    assert said(strict, "Sql is fine. sql too, but SQL and mid Sql not") == [
        ("Sql", "sequel"), ("is", "is"), ("fine.", "fine."), ("sql", "sequel"), ("too,", "too,"), ("but", "but"),
        ("SQL", "SQL"), ("and", "and"), ("mid", "mid"), ("Sql", "Sql"), ("not", "not")]


def test_ipa_alias_bypasses_espeak():
    lexicon = Lexicon([make_entry("tomato", "<<təˈmɑːtoʊ>>")])
    plain = phonemize_words(normalize_words("A tomato, please.", "en"), "en")
    custom = phonemize_words(said(lexicon, "A tomato, please."), "en")
    assert custom.phonemes != plain.phonemes
    assert "təˈmɑtO" in custom.phonemes  # ɑː -> ɑ (English drops length marks), oʊ -> O
    assert [w.word for w in custom.words] == ["A", "tomato,", "please."]
    span = custom.words[1]
    assert custom.phonemes[span.start: span.end] == "təˈmɑtO"
    assert custom.phonemes.endswith(", plˈiz.")  # the punctuation after the word still shapes prosody
    assert ipa_to_kokoro("ˈdʒɛt ˈlæɡ") == "ˈʤɛt ˈlæɡ"


@pytest.mark.parametrize(("text", "alias", "problem"), [
    ("", "x", "must contain a word"),
    ("...", "x", "must contain a word"),
    ("word", "<<>>", "no phoneme"),
    ("word", "<<123>>", "no phoneme"),
    ("word", "say <<wɜːd>> now", "as a whole"),
    ("word", "!!!", "sound-alike"),
    ("w" * 201, "x", "at most"),
])
def test_bad_items_are_refused(text, alias, problem):
    with pytest.raises(PronunciationError) as info:
        make_entry(text, alias, where="items[2]")
    assert info.value.message.startswith("items[2]: ") and problem in info.value.message


def test_a_dictionary_changes_the_audio_and_timestamps_name_the_written_word():
    synth = get_synthesizer()
    voice = stock_voices()[0].artifact
    script = markup.parse("I said Nguyen today.")
    lexicon = Lexicon([make_entry("Nguyen", "<<wɪn>>")])
    plain = list(synth.stream_script(script, voice))
    custom = list(synth.stream_script(script, voice, lexicon=lexicon))
    plain_words = [w.word for c in plain for w in c.words]
    assert plain_words == [w.word for c in custom for w in c.words] == ["I", "said", "Nguyen", "today"]
    phones = lambda chunks: "".join(p.phoneme for c in chunks for p in c.phonemes)  # noqa: E731
    assert phones(plain) != phones(custom) and "wˈɪn" not in phones(plain)
    n_plain, n_custom = sum(len(c.audio) for c in plain), sum(len(c.audio) for c in custom)
    assert n_custom < n_plain  # "win" is shorter than espeak's "nguyen"
