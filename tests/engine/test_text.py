import pytest

from voicesmith.engine.text import cardinal, chunk_text, normalize, normalize_words, ordinal, split_sentences, year

ENGLISH = [
    ("$3.50 on 12/05", "three dollars and fifty cents on December fifth"),
    ("It costs $1.", "It costs one dollar."),
    ("Only $0.99!", "Only ninety-nine cents!"),
    ("£2.50 and €3", "two pounds and fifty pence and three euros"),
    ("$5 million", "five million dollars"),
    ("In 1990, 2005 and 2024.", "In nineteen ninety, two thousand five and twenty twenty-four."),
    ("1905 and 1900", "nineteen oh five and nineteen hundred"),
    ("the 1990s", "the nineteen nineties"),
    ("1st 2nd 3rd 21st 100th", "first second third twenty-first one hundredth"),
    ("1,234,567 people", "one million two hundred thirty-four thousand five hundred sixty-seven people"),
    ("3.14 and -5", "three point one four and minus five"),
    ("40% off, 3.5%", "forty percent off, three point five percent"),
    ("at 3:30 pm", "at three thirty p m"),
    ("at 10am", "at ten a m"),
    ("at 3:00", "at three o'clock"),
    ("at 7:05", "at seven oh five"),
    ("on 12/05/2024", "on December fifth, twenty twenty-four"),
    ("on 25/12", "on December twenty-fifth"),
    ("on 2024-05-12", "on May twelfth, twenty twenty-four"),
    ("1/2 cup, 3/4 mile", "one half cup, three quarters mile"),
    ("Mr. Smith and Dr. Jones", "mister Smith and doctor Jones"),
    ("Mrs. Lee, Prof. Wu, Jr.", "missus Lee, professor Wu, junior"),
    ("St. Louis and Baker St. today", "saint Louis and Baker street today"),
    ("apples, pears, etc.", "apples, pears, et cetera"),
    ("No. 5", "number five"),
    ("5 km and 1 km", "five kilometers and one kilometer"),
    ("10kg of 20°C water", "ten kilograms of twenty degrees Celsius water"),
    ("2.5 GB", "two point five gigabytes"),
    ("10-20 items", "ten to twenty items"),
    ("call 007", "call zero zero seven"),
    ("rock & roll", "rock and roll"),
    ("#1 fan", "number one fan"),
]


@pytest.mark.parametrize(("text", "spoken"), ENGLISH)
def test_english_normalisation(text, spoken):
    assert normalize(text, "en") == spoken


OTHER = [
    ("Tengo 3,5 kilos y 1.234 euros.", "es", "Tengo tres coma cinco kilos y mil doscientos treinta y cuatro euros."),
    ("Son 50% y -4.", "es", "Son cincuenta por ciento y menos cuatro."),
    ("Il a 21 ans et 3,50 €.", "fr", "Il a vingt et un ans et trois virgule cinquante euros."),
    ("Ho 12 anni e 25 %.", "it", "Ho dodici anni e venticinque per cento."),
    ("Tenho 100 reais e 25%.", "pt", "Tenho cem reais e vinte e cinco por cento."),
    # Hindi digits are left to espeak-ng, which reads them in Hindi.
    ("मेरे पास 5 किताबें हैं।", "hi", "मेरे पास 5 किताबें हैं।"),
]


@pytest.mark.parametrize(("text", "language", "spoken"), OTHER)
def test_other_languages_numbers(text, language, spoken):
    assert normalize(text, language) == spoken


def test_words_map_back_to_the_transcript():
    pairs = normalize_words("Pay $3.50 now.", "en")
    assert pairs == [("Pay", "Pay"), ("$3.50", "three dollars and fifty cents"), ("now.", "now.")]


def test_number_words():
    assert cardinal(0) == "zero"
    assert cardinal(101) == "one hundred one"
    assert cardinal(2_000_000_003) == "two billion three"
    assert ordinal(12) == "twelfth"
    assert ordinal(40) == "fortieth"
    assert year(2010) == "twenty ten"


def test_sentence_split_respects_abbreviations_and_initials():
    text = "Dr. Who is here. J. K. Rowling wrote it! Is it 3.5 km? Yes.\nNew line"
    assert split_sentences(text) == ["Dr. Who is here.", "J. K. Rowling wrote it!", "Is it 3.5 km?", "Yes.", "New line"]


def test_first_chunk_is_cut_early_at_a_clause():
    chunks = chunk_text("Hello there, my friend, how are you doing today on this fine morning? I am fine.")
    assert chunks == ["Hello there, my friend,", "how are you doing today on this fine morning?", "I am fine."]


def test_first_chunk_without_punctuation_is_cut_at_a_phrase_boundary():
    chunks = chunk_text("The quick brown fox jumps over the lazy dog and then runs away into the forest.")
    assert chunks[0] == "The quick brown fox jumps"
    assert " ".join(chunks) == "The quick brown fox jumps over the lazy dog and then runs away into the forest."
    assert chunk_text("Write your name at the top of the page.")[0] == "Write your name"
    # short sentences stay whole, and only the first sentence is cut early
    assert chunk_text("Please close the door behind you.") == ["Please close the door behind you."]
    assert chunk_text("Short one. Then a much longer second sentence, that is not split early at all.")[1:] == [
        "Then a much longer second sentence, that is not split early at all."
    ]


def test_long_sentences_are_split():
    sentence = " ".join(["word"] * 100) + "."
    chunks = chunk_text(sentence, early_first=False)
    assert len(chunks) == 3 and all(len(c.split()) <= 40 for c in chunks)
