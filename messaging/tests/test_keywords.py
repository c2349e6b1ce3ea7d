"""The keyword engine: pure functions, no database."""

import pytest

from messaging import keywords as kw
from messaging.keywords import classify, keyword_set, normalize

pytestmark = pytest.mark.smoke

OPT_OUT_KEYWORDS = [
    "STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT", "OPT OUT", "OPT-OUT",
    "PARAR", "CANCELAR", "DETENER", "BAJA", "ARRET", "ARRÊT", "ARRETE",
]  # fmt: skip


def variants(word: str) -> list[str]:
    return [word, word.lower(), word.title(), f"  {word}  ", f"{word}.", f"{word}!!!", f'"{word}"', f"{word} 🛑"]


@pytest.mark.parametrize("word", OPT_OUT_KEYWORDS)
def test_every_opt_out_keyword_opts_out_in_any_case_and_punctuation(word):
    for text in variants(word):
        result = classify(text)
        assert result.meaning == kw.OPT_OUT, text
        assert result.how == "exact", text


@pytest.mark.parametrize("text", ["opt out", "Opt Out", "opt  out", "OPT. OUT", "opt-out", "Opt_out"])
def test_opt_out_as_two_words_opts_out(text):
    assert classify(text).meaning == kw.OPT_OUT


@pytest.mark.parametrize(
    "text",
    ["Stop please", "STOP texting me", "stop, thanks", "Unsubscribe me now", "Cancel this", "Quit sending",
     "opt out please", "Parar por favor", "Arrêt svp", "END."],
)  # fmt: skip
def test_a_message_starting_with_an_opt_out_keyword_opts_out(text):
    assert classify(text).meaning == kw.OPT_OUT


@pytest.mark.parametrize(
    "text",
    ["Please remove me from this list", "No more texts", "no more messages please", "Can you stop texting me",
     "take me off your list", "No más", "no mas", "Don't text me again", "do not contact me", "pls stop",
     "I want to unsubscribe", "leave me alone"],
)  # fmt: skip
def test_plain_language_opt_outs_opt_out(text):
    assert classify(text).meaning == kw.OPT_OUT, text


@pytest.mark.parametrize(
    "text",
    ["Not interested", "who is this?", "Wrong number", "No", "no thanks", "This is spam",
     "I will cancel my order", "stpo", "Unsubscibe", "the end of the day works"],
)  # fmt: skip
def test_replies_that_might_be_opt_outs_go_to_review(text):
    assert classify(text).meaning == kw.REVIEW, text


@pytest.mark.parametrize("text", ["Thanks!", "See you Saturday", "What time do you open?", "", "   ", "🙂"])
def test_ordinary_replies_need_nothing(text):
    assert classify(text).meaning == kw.OTHER


@pytest.mark.parametrize("word", ["START", "start", "Unstop", "YES", "yes!", "Yes."])
def test_opt_in_keywords(word):
    assert classify(word).meaning == kw.OPT_IN


@pytest.mark.parametrize("word", ["HELP", "help?", "Info", " INFO "])
def test_help_keywords(word):
    assert classify(word).meaning == kw.HELP


def test_program_keywords_match_the_whole_message_in_any_case():
    assert classify("deals!", program_keywords=["DEALS"]) == kw.Classification(kw.PROGRAM, "deals", "exact")
    assert classify("deals today", program_keywords=["DEALS"]).meaning == kw.OTHER


def test_a_program_keyword_can_never_shadow_an_opt_out():
    assert classify("STOP", program_keywords=["STOP"]).meaning == kw.OPT_OUT


@pytest.mark.parametrize(
    ("opt_out_type", "body", "expected"),
    [("STOP", "please keep them coming", kw.OPT_OUT), ("START", "stop", kw.OPT_IN), ("HELP", "stop", kw.HELP),
     ("stop", "hello", kw.OPT_OUT), ("", "stop", kw.OPT_OUT), ("UNKNOWN", "stop", kw.OPT_OUT)],
)  # fmt: skip
def test_twilios_opt_out_type_decides_over_the_body(opt_out_type, body, expected):
    result = classify(body, opt_out_type=opt_out_type)
    assert result.meaning == expected


def test_fcc_words_opt_out_even_when_the_editable_list_leaves_them_out():
    edited = keyword_set(opt_out_words=["BASTA"], opt_out_phrases=[], review_phrases=[])
    assert classify("basta", keywords=edited).meaning == kw.OPT_OUT
    for word in ["stop", "quit", "end", "revoke", "opt out", "cancel", "unsubscribe"]:
        assert classify(word, keywords=edited).meaning == kw.OPT_OUT
    assert classify("arret", keywords=edited).meaning == kw.OTHER  # editable: removed on purpose


def test_an_opt_out_word_can_not_be_made_an_opt_in_word():
    edited = keyword_set(opt_in_words=["START", "STOP"])
    assert classify("stop", keywords=edited).meaning == kw.OPT_OUT


def test_normalize_ignores_case_accents_punctuation_and_spacing():
    assert normalize("  ¡ARRÊT!  ") == "arret"
    assert normalize("Don’t   text-me.") == "dont text me"
    assert normalize("OPT_OUT") == "opt out"
