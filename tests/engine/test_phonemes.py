import pytest

from voicesmith.engine.kokoro import weights
from voicesmith.engine.phonemes import PhonemizerError, _espeak, phonemize, phonemize_words, to_kokoro
from voicesmith.engine.text import normalize_words


@pytest.mark.parametrize(
    ("ipa", "kokoro"),
    [
        ("a^ɪ", "I"), ("a^ʊ", "W"), ("e^ɪ", "A"), ("o^ʊ", "O"), ("ɔ^ɪ", "Y"), ("d^ʒ", "ʤ"), ("t^ʃ", "ʧ"),
        ("mˈɪstɚ", "mˈɪstəɹ"), ("ɐbˈaʊt", "əbˈaʊt"), ("bˈʌʔn̩", "bˈʌtᵊn"), ("pˈiːpə^l", "pˈipᵊl"),
        ("wˈɜːld", "wˈɜɹld"), ("ɹˈɛd", "ɹˈɛd"),
    ],
)
def test_english_ipa_maps_onto_kokoro_symbols(ipa, kokoro):
    assert to_kokoro(ipa, "en") == kokoro


def test_other_languages_keep_length_and_nasal_marks():
    assert to_kokoro("bɔ̃ʒˈuʁ", "fr") == "bɔ̃ʒˈuʁ"
    assert to_kokoro("ˌaːp", "hi") == "ˌaːp"
    assert to_kokoro("t^ʃˈao", "it") == "ʧˈao"


def test_english_sentence():
    assert phonemize("Hello world, how are you?", "en") == "həlˈO wˈɜɹld, hˈW ɑɹ ju?"


@pytest.mark.parametrize(
    ("language", "text"),
    [("en", "The cat sat on the mat."), ("es", "Hola, ¿cómo estás?"), ("fr", "Bonjour, je m'appelle Pierre."),
     ("it", "Ciao, come stai?"), ("pt", "Olá, tudo bem?"), ("hi", "नमस्ते, आप कैसे हैं।")],
)
def test_every_language_gives_vocab_symbols_and_one_span_per_word(language, text):
    result = phonemize_words(normalize_words(text, language), language)
    vocab = weights.vocab()
    assert result.phonemes and all(ch in vocab for ch in result.phonemes)
    assert [s.word for s in result.words] == text.split()
    ends = [0] + [s.end for s in result.words]
    assert all(s.start >= prev and s.end > s.start for s, prev in zip(result.words, ends))


def test_words_espeak_merges_are_split_back():
    # espeak-ng joins short function words into one phoneme word ("out of" -> "ˌaʊɾəv"); Kokoro was
    # trained on separate words, so the merge is cut back at the best match of the words said alone.
    assert len(_espeak().ipa("out of the house", "en-us").split()) < 4
    result = phonemize_words(normalize_words("out of the house", "en"), "en")
    assert len(result.phonemes.split()) == 4
    spans = {s.word: result.phonemes[s.start : s.end] for s in result.words}
    assert list(spans) == ["out", "of", "the", "house"]
    assert spans["out"].endswith(("t", "ɾ")) and spans["of"].endswith("v") and spans["the"] == "ðə"


def test_expanded_word_keeps_its_whole_span():
    result = phonemize_words(normalize_words("It costs $3.50 today.", "en"), "en")
    spans = {s.word: result.phonemes[s.start : s.end] for s in result.words}
    assert spans["$3.50"].count(" ") == 4  # three dollars and fifty cents
    assert result.phonemes.endswith(".")


def test_unknown_language_is_refused():
    with pytest.raises(PhonemizerError):
        phonemize("hallo", "de")
