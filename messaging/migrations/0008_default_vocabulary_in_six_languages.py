"""The default vocabulary in English, Spanish, French, Portuguese, German, Italian and Chinese, with sources.

Adds the defaults of messaging/keywords/vocabulary.py that aren't stored yet, records the
language and source of those already there (from 0003), and drops two default review phrases
that are now plain-language opt-outs ("not interested", "never signed up") and would otherwise
be ignored as shadowing them. Rows staff changed keep their meaning and their active flag.
Changing the defaults later needs a migration of its own for databases already migrated.
"""

from django.db import migrations

from messaging.keywords.vocabulary import DEFAULT_TERMS

# Default review phrases of 0003 that the opt-out patterns now cover.
NOW_OPT_OUTS = (("not interested", "phrase"), ("never signed up", "phrase"))


def seed(apps, schema_editor):
    KeywordRule = apps.get_model("messaging", "KeywordRule")
    for text, match in NOW_OPT_OUTS:
        KeywordRule.objects.filter(text=text, match=match, meaning="review").delete()
    stored = {(r.text, r.match): r for r in KeywordRule.objects.all()}
    new = []
    for term in DEFAULT_TERMS:
        row = stored.get((term.text, term.match))
        if row is None:
            new.append(KeywordRule(text=term.text, meaning=term.meaning, match=term.match,
                                   language=term.language, source=term.source))  # fmt: skip
        elif not row.source:
            row.language, row.source = term.language, term.source
            row.save(update_fields=["language", "source"])
    KeywordRule.objects.bulk_create(new, ignore_conflicts=True)


def unseed(apps, schema_editor):
    from importlib import import_module

    KeywordRule = apps.get_model("messaging", "KeywordRule")
    first = import_module("messaging.migrations.0003_seed_default_keywords")
    kept = {(row["text"], row["match"]) for row in first._rows()}
    for term in DEFAULT_TERMS:
        if (term.text, term.match) not in kept:
            KeywordRule.objects.filter(text=term.text, match=term.match, source=term.source).delete()
    KeywordRule.objects.update(language="", source="")
    for text, match in NOW_OPT_OUTS:
        KeywordRule.objects.get_or_create(text=text, match=match, defaults={"meaning": "review"})


class Migration(migrations.Migration):
    dependencies = [("messaging", "0007_keyword_rule_language_source_inbound_explanation")]

    operations = [migrations.RunPython(seed, unseed)]
