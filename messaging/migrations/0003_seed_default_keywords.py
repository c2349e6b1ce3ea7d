"""The default keyword lists (interfaces.md), stored so staff can edit them in the admin.

The lists are written out here, as they were when this migration was made: a migration that
read them from the live code would seed different rows as the code changes.
"""

from django.db import migrations

OPT_OUT_WORDS = (
    "STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT", "OPT OUT", "OPT-OUT",
    "PARAR", "CANCELAR", "DETENER", "BAJA", "ARRET", "ARRÊT", "ARRETE",
)
OPT_IN_WORDS = ("START", "UNSTOP", "YES")
HELP_WORDS = ("HELP", "INFO")
OPT_OUT_PHRASES = (
    "remove me", "please remove", "take me off", "no more texts", "no more text", "no more messages",
    "stop texting", "stop messaging", "stop sending", "stop contacting", "please stop", "pls stop", "plz stop",
    "unsubscribe",
    "opt me out", "dont text", "do not text", "dont message", "do not message", "dont contact", "do not contact",
    "leave me alone", "no mas", "no me envien", "ne plus recevoir",
)
REVIEW_PHRASES = (
    "not interested", "who is this", "who dis", "wrong number", "wrong person", "how did you get my number",
    "why are you texting", "i didnt sign up", "never signed up", "spam", "no thanks", "no thank you",
)
REVIEW_WORDS = ("NO", "NOPE")


def _rows():
    for meaning, match, texts in (
        ("opt_out", "word", OPT_OUT_WORDS),
        ("opt_in", "word", OPT_IN_WORDS),
        ("help", "word", HELP_WORDS),
        ("review", "word", REVIEW_WORDS),
        ("opt_out", "phrase", OPT_OUT_PHRASES),
        ("review", "phrase", REVIEW_PHRASES),
    ):
        for text in texts:
            yield {"text": text, "meaning": meaning, "match": match}


def seed(apps, schema_editor):
    KeywordRule = apps.get_model("messaging", "KeywordRule")
    KeywordRule.objects.bulk_create([KeywordRule(**row) for row in _rows()], ignore_conflicts=True)


def unseed(apps, schema_editor):
    KeywordRule = apps.get_model("messaging", "KeywordRule")
    for row in _rows():
        KeywordRule.objects.filter(text=row["text"], match=row["match"]).delete()


class Migration(migrations.Migration):
    dependencies = [("messaging", "0002_inbound_messages_review_queue_keyword_rules")]

    operations = [migrations.RunPython(seed, unseed)]
