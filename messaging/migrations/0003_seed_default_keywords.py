"""The default keyword lists (interfaces.md), stored so staff can edit them in the admin."""

from django.db import migrations

from messaging import keywords as kw


def _rows():
    for meaning, match, texts in (
        ("opt_out", "word", kw.DEFAULT_OPT_OUT_WORDS),
        ("opt_in", "word", kw.DEFAULT_OPT_IN_WORDS),
        ("help", "word", kw.DEFAULT_HELP_WORDS),
        ("review", "word", kw.DEFAULT_REVIEW_WORDS),
        ("opt_out", "phrase", kw.DEFAULT_OPT_OUT_PHRASES),
        ("review", "phrase", kw.DEFAULT_REVIEW_PHRASES),
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
