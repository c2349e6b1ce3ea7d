"""The keyword engine: pure functions, no database."""

import unicodedata

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from messaging import keywords as kw
from messaging.keywords import Term, classify, clauses, keyword_set, normalize
from messaging.keywords.normalize import normalize_with_clauses

pytestmark = pytest.mark.smoke

# interfaces.md's opt-out keywords.
INTERFACE_OPT_OUT_KEYWORDS = [
    "STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT", "OPT OUT", "OPT-OUT",
    "PARAR", "CANCELAR", "DETENER", "BAJA", "ARRET", "ARRÊT", "ARRETE",
]  # fmt: skip
DEFAULT_OPT_OUTS = sorted({t.text for t in kw.DEFAULT_TERMS if t.meaning == kw.OPT_OUT})
ALL_OPT_OUTS = sorted(set(INTERFACE_OPT_OUT_KEYWORDS) | set(DEFAULT_OPT_OUTS))


def reviewed(result: kw.Classification) -> bool:
    """What a reply from a subscribed number gets: a person reads it."""
    return result.meaning == kw.REVIEW or (result.meaning == kw.OTHER and not result.confident)


def variants(word: str) -> list[str]:
    return [word, word.lower(), word.title(), f"  {word}  ", f"{word}.", f"{word}!!!", f'"{word}"', f"{word} 🛑"]


@pytest.mark.parametrize("word", ALL_OPT_OUTS)
def test_every_opt_out_keyword_and_default_opts_out_in_any_case_and_punctuation(word):
    for text in variants(word):
        assert classify(text).meaning == kw.OPT_OUT, text


@pytest.mark.parametrize(
    "text",
    ["Stop please", "STOP texting me", "stop, thanks", "Unsubscribe me now", "Cancel this", "Quit sending",
     "opt out please", "Parar por favor", "Arrêt svp", "END.", "Stopp bitte", "Basta messaggi", "Sair por favor"],
)  # fmt: skip
def test_a_message_starting_with_an_opt_out_keyword_opts_out(text):
    assert classify(text).meaning == kw.OPT_OUT


@pytest.mark.parametrize(
    "text",
    ["Not interested, stop", "too many texts... STOP", "thanks but stop", "ok stop", "i told u STOP",
     "Why do I keep getting these? Stop.", "seriously 😡 stop", "Danke, aber stopp"],
)  # fmt: skip
def test_a_reply_ending_with_an_opt_out_keyword_after_other_words_opts_out(text):
    result = classify(text)
    assert result.meaning == kw.OPT_OUT, text
    assert result.how in ("ends_with", "alone"), text


@pytest.mark.parametrize(
    "text",
    ["Please remove me from this list", "No more texts", "Can you stop texting me", "take my number off your list",
     "I don't want these texts anymore", "I never signed up for this", "Leave me alone", "Not interested",
     "Don't text me again", "I want to opt out", "Ya no quiero recibir mensajes", "Je ne veux plus recevoir de SMS",
     "Não quero mais receber mensagens", "Keine SMS mehr", "Non scrivetemi più", "我要退订", "不要再给我发短信"],
)  # fmt: skip
def test_plain_language_revocations_opt_out(text):
    result = classify(text)
    assert result.meaning == kw.OPT_OUT, text
    assert result.how in ("pattern", "phrase"), text


@pytest.mark.parametrize(
    "text",
    ["Don't stop the deals!", "I'll stop by later", "Never stop!", "Please don't stop sending these, I love them",
     "Can't stop smiling, thanks", "When does the sale end?", "End of season sale still on?",
     "N'arrêtez pas les promos !", "Does the deal stop at midnight?", "The bus stop near your store"],
)  # fmt: skip
def test_negated_and_other_senses_never_opt_out_and_need_no_review(text):
    result = classify(text)
    assert result.meaning == kw.OTHER and result.confident, (text, result)
    assert result.how in ("negated", "other_sense"), (text, result)


@pytest.mark.parametrize("text", ["1 🛑", "12 🛑 34", "!!! 🛑 ???", "🛑 1", "5 ⛔"])
def test_the_stop_sign_beside_numbers_and_punctuation_is_read_without_error(text):
    result = classify(text)
    assert result.meaning == kw.OPT_OUT or reviewed(result)


def test_a_negation_only_counts_right_before_the_keyword():
    assert classify("I'm not kidding stop texting me").meaning == kw.OPT_OUT
    assert classify("Don't worry, stop texting me").meaning == kw.OPT_OUT
    assert classify("I don't want you to stop texting").meaning != kw.OPT_OUT


@pytest.mark.parametrize(
    ("text", "guessed"),
    [("stpo", "stop"), ("Unsubscibe", "unsubscribe"), ("Cancle pls", "cancel"), ("quitt", "quit"),
     ("Abmeldn", "abmelden"), ("Bsata", "basta"), ("stp", "stop")],
)  # fmt: skip
def test_a_misspelt_opt_out_keyword_goes_to_review_with_the_guessed_meaning(text, guessed):
    result = classify(text)
    assert result.meaning == kw.REVIEW and result.how == "near_miss"
    assert result.guess == kw.OPT_OUT and result.rule == f"“{guessed}”"
    assert f"“{guessed}”" in result.why()


@pytest.mark.parametrize("text", ["I stopped by yesterday", "It ended well", "Shop open today?", "Quite a deal",
                                  "Pasta fresca oggi?", "Where are you?", "hasta mañana"])  # fmt: skip
def test_real_words_near_a_keyword_are_not_misspellings_and_never_opt_out(text):
    result = classify(text)
    assert result.meaning != kw.OPT_OUT
    assert result.how != "near_miss", result


@pytest.mark.parametrize(
    "text",
    ["Not interested in the shoes", "who is this?", "Wrong number", "No", "no thanks", "This is spam",
     "I will cancel my order", "Reply STOP to opt out", "Disliked “Acme: 20% off”",
     "hola", "", "   ", "🙂", "👍", "⛔", "Quién es?", "打错了", "How did you get my number"],
)  # fmt: skip
def test_replies_that_might_be_opt_outs_are_never_left_alone_for_a_subscriber(text):
    result = classify(text)
    assert result.meaning != kw.OPT_OUT, text
    assert reviewed(result), (text, result)


@pytest.mark.parametrize(
    "text",
    ["Thanks!", "See you Saturday", "What time do you open?", "Gracias", "Merci beaucoup", "Danke", "谢谢",
     "Liked “Acme Deals: 20% off this weekend. Reply STOP to opt out”", "Loved “Reply STOP to opt out”"],
)  # fmt: skip
def test_confident_non_revocations_are_left_alone(text):
    result = classify(text)
    assert result.meaning == kw.OTHER and result.confident, (text, result)


def test_a_tapback_quoting_our_footer_is_not_read_as_the_persons_words():
    result = classify("Liked “Acme Deals: Flash sale ends tonight! Reply STOP to opt out”")
    assert (result.meaning, result.how) == (kw.OTHER, "reaction")


@pytest.mark.parametrize("word", ["START", "start", "Unstop", "YES", "yes!", "Yes."])
def test_opt_in_keywords(word):
    assert classify(word).meaning == kw.OPT_IN


@pytest.mark.parametrize("word", ["HELP", "help?", "Info", " INFO ", "Aide"])
def test_help_keywords(word):
    assert classify(word).meaning == kw.HELP


def test_program_keywords_match_the_whole_message_in_any_case():
    result = classify("deals!", program_keywords=["DEALS"])
    assert (result.meaning, result.keyword, result.how) == (kw.PROGRAM, "deals", "exact")
    assert classify("deals today", program_keywords=["DEALS"]).meaning == kw.OTHER


def test_a_program_keyword_can_never_shadow_an_opt_out():
    assert classify("STOP", program_keywords=["STOP"]).meaning == kw.OPT_OUT
    assert classify("stpo", program_keywords=["STPO"]).meaning == kw.REVIEW


@pytest.mark.parametrize(
    ("opt_out_type", "body", "expected"),
    [("STOP", "please keep them coming", kw.OPT_OUT), ("START", "stop", kw.OPT_IN), ("HELP", "stop", kw.HELP),
     ("stop", "hello", kw.OPT_OUT), ("", "stop", kw.OPT_OUT), ("UNKNOWN", "stop", kw.OPT_OUT)],
)  # fmt: skip
def test_twilios_opt_out_type_decides_over_the_body(opt_out_type, body, expected):
    assert classify(body, opt_out_type=opt_out_type).meaning == expected


def test_fcc_words_opt_out_even_when_the_editable_list_leaves_them_out():
    edited = keyword_set([Term("BASTA", kw.OPT_OUT)])
    assert classify("basta", keywords=edited).meaning == kw.OPT_OUT
    for word in ["stop", "quit", "end", "revoke", "opt out", "cancel", "unsubscribe"]:
        assert classify(word, keywords=edited).meaning == kw.OPT_OUT
    assert classify("arret", keywords=edited).meaning == kw.OTHER  # editable: removed on purpose
    assert not classify("arret", keywords=edited).confident  # ... but never silently dropped


@pytest.mark.parametrize(
    ("text", "meaning"),
    [("stop please", kw.OPT_IN), ("STOP", kw.OPT_IN), ("stop texting me", kw.HELP), ("please stop", kw.NO_ACTION),
     ("yes stop", kw.OPT_IN), ("don't text me", kw.NO_ACTION), ("stpo", kw.OPT_IN), ("take me off", kw.HELP),
     ("退订", kw.OPT_IN), ("stop", kw.REVIEW)],
)  # fmt: skip
def test_a_rule_that_would_shadow_an_opt_out_is_ignored(text, meaning):
    edited = keyword_set([*kw.DEFAULT_TERMS, Term(text, meaning, kw.WORD, rule_id=99)])
    assert [term.rule_id for term, _ in edited.ignored] == [99]
    if meaning != kw.REVIEW:
        assert classify(text, keywords=edited).meaning in (kw.OPT_OUT, kw.REVIEW)


def test_rules_that_shadow_nothing_are_kept():
    edited = keyword_set([*kw.DEFAULT_TERMS, Term("SI", kw.OPT_IN), Term("AYUDA", kw.HELP)])
    assert edited.ignored == ()
    assert classify("¡Sí!", keywords=edited).meaning == kw.OPT_IN
    assert classify("ayuda", keywords=edited).meaning == kw.HELP


def test_the_default_vocabulary_shadows_nothing_and_every_default_is_unique():
    assert kw.DEFAULT_KEYWORDS.ignored == ()
    keys = [(t.text, t.match) for t in kw.DEFAULT_TERMS if t not in kw.FCC_TERMS]
    assert len(keys) == len(set(keys))
    assert all(t.source and len(t.source) <= 200 and len(t.text) <= 60 for t in kw.DEFAULT_TERMS)
    languages = {t.language for t in kw.DEFAULT_TERMS if t.meaning == kw.OPT_OUT}
    assert {"en", "es", "fr", "pt", "de", "it", "zh"} <= languages


def test_every_decision_names_its_rule_and_says_why():
    result = classify("STOP")
    assert result.rule == "word “STOP”" and "FCC" in result.why()
    result = classify("please take my number off your list")
    assert result.how == "pattern" and "take me off" in result.rule and "plain language" in result.why()
    result = classify("hola")
    assert not result.confident and result.why()


def test_normalize_folds_case_accents_punctuation_width_and_invisible_characters():
    assert normalize("  ¡ARRÊT!  ") == "arret"
    assert normalize("Don’t   text-me.") == "dont text me"
    assert normalize("OPT_OUT") == "opt out"
    assert normalize("ＳＴＯＰ") == "stop"  # full-width
    assert normalize("𝐒𝐓𝐎𝐏") == "stop"  # mathematical bold
    assert normalize("St\u200bop\u2060") == "stop"  # zero-width
    assert normalize("stop\u00a0please") == "stop please"  # non-breaking space
    assert normalize("S.T.O.P") == normalize("S T O P") == normalize("s-t-o-p") == "stop"
    assert normalize("STOPPPP!!!") == "stop"
    assert normalize("stop😡😡") == "stop 😡 😡"
    assert normalize("Ne m'envoyez plus") == "ne m envoyez plus"


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_normalize_is_idempotent(text):
    once = normalize(text)
    assert normalize(once) == once


@settings(max_examples=200, deadline=None)
@given(st.text(st.sampled_from("stop S.T,O P!?…。 é\u0301\u200b🛑'’-—\n"), max_size=40) | st.text(max_size=100))
def test_normalising_clause_by_clause_gives_the_same_whole(text):
    whole, parts = normalize_with_clauses(text)
    assert whole == normalize(text)
    assert parts == clauses(text)


_AROUND = st.lists(
    st.sampled_from([" ", "  ", "!", "!!!", "?", ".", "...", ",", '"', "*", "(", ")", "\n", "\t", "\u200b", "\u2060",
                     "\u00a0", "\ufeff", "🙏", "😡", "👍🏼", "🔥", "❤️", "👨‍👩‍👧"]),
    max_size=4,
).map("".join)  # fmt: skip
_BETWEEN = st.sampled_from([" ", "  ", "-", "_", "\u00a0", " \u200b", "\u3000"])


@st.composite
def decorated_opt_out(draw):
    word = draw(st.sampled_from(ALL_OPT_OUTS))
    cased = "".join(ch.upper() if draw(st.booleans()) else ch.lower() for ch in word)
    spaced = draw(_BETWEEN).join(cased.replace("-", " ").split())
    chars = list(spaced)
    for _ in range(draw(st.integers(0, 2))):  # zero-width characters inside the word too
        chars.insert(draw(st.integers(0, len(chars))), draw(st.sampled_from(["\u200b", "\u200d", "\u2060", "\u00ad"])))
    return draw(_AROUND) + "".join(chars) + draw(_AROUND)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(decorated_opt_out())
def test_any_opt_out_keyword_with_random_case_spacing_punctuation_and_emoji_still_opts_out(text):
    assert classify(text).meaning == kw.OPT_OUT, repr(text)


# Pieces the classifier reacts to, shuffled with digits, emoji and punctuation: random text alone rarely
# reaches the branches that only run next to a keyword.
_PIECES = st.lists(
    st.sampled_from([*ALL_OPT_OUTS, "please", "dont", "not", "by", "the", "thanks", "stpo", "1", "42", "🛑", "⛔", "👍",
                     "“", "”", "Liked", ",", ".", "!", "?", " ", "\n", "\u200b", "退订", "T", "D", "s", "t"]),
    max_size=12,
).map(" ".join)  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(st.text(st.characters(), max_size=300) | _PIECES, st.sampled_from(["", "STOP", "START", "HELP", "??", "\x00"]))
def test_random_unicode_never_crashes_the_classifier(text, opt_out_type):
    result = classify(text, opt_out_type=opt_out_type)
    assert result.meaning in {kw.OPT_OUT, kw.OPT_IN, kw.HELP, kw.PROGRAM, kw.REVIEW, kw.OTHER}
    assert isinstance(result.why(), str)
    assert unicodedata.is_normalized("NFC", normalize(text))
