"""The text a recipient gets: the body personalised with their own fields, plus brand and opt-out footer.

Rendering uses a template engine with no loaders and a context that is a
plain dict of the contact's own fields, so a body can never reach a model,
another template or anything else in the product. A body is checked when it
is compiled, before anything renders: it may use only the contact's own
fields by name, and only tags and filters whose output grows no faster than
the body and those fields, so nothing a body says can make rendering
allocate more than a few times its own size.
"""

import re
import unicodedata
from functools import lru_cache

from django.conf import settings
from django.core.exceptions import ValidationError
from django.template import Context, Engine, Library, TemplateSyntaxError, defaultfilters, defaulttags
from django.template.base import FilterExpression, TextNode, Variable, VariableNode
from django.template.defaulttags import CommentNode, FirstOfNode, IfNode

from messaging.keywords import DEFAULT_OPT_OUT_WORDS

# Loaders empty: {% include %} and {% extends %} find nothing. Autoescape off: this is SMS, not HTML.
_ENGINE = Engine(dirs=[], app_dirs=False, loaders=[], libraries={}, autoescape=False, string_if_invalid="")
# Only tags that work on the body's own context. The other built-ins reach outside it: {% debug %}
# prints the process's modules and paths, {% url %} the URL map, {% now %} the server's clock,
# {% load %}, {% include %} and {% extends %} other code and templates. `body_compile` narrows further.
_BODY_TAGS = ("if", "for", "with", "firstof", "cycle", "ifchanged", "spaceless", "filter", "comment", "verbatim",
              "templatetag", "autoescape")  # fmt: skip
_BODY_LIBRARY = Library()
_BODY_LIBRARY.filters.update(defaultfilters.register.filters)
_BODY_LIBRARY.tags.update({name: defaulttags.register.tags[name] for name in _BODY_TAGS})
_ENGINE.template_builtins = [_BODY_LIBRARY]

CONTACT_FIELDS = ("first_name", "last_name", "email", "attributes")
_PLAIN_FIELDS = ("first_name", "last_name", "email")
_FIELDS_HELP = 'first_name, last_name, email or attributes.<name>, e.g. {{ first_name|default:"there" }}'

# Tags a body may use. Loops, {% lorem %}, {% filter %}, {% with %} and the rest are refused: a text
# needs none of them, and some multiply the output (nested loops, `{% lorem 300000000 w %}`).
ALLOWED_TAGS = {IfNode: "if", FirstOfNode: "firstof", CommentNode: "comment"}
# Filters whose output is bounded by their input and arguments. `center`, `ljust`, `rjust`,
# `stringformat` and `floatformat` take a width or precision and allocate whatever it says.
ALLOWED_FILTERS = frozenset({
    "add", "capfirst", "cut", "default", "default_if_none", "first", "last", "length", "lower", "pluralize",
    "slugify", "title", "truncatechars", "truncatewords", "upper", "urlencode", "yesno",
})  # fmt: skip
_FILTER_NAMES = {func: name for library in _ENGINE.template_builtins for name, func in library.filters.items()}


def _plain(text: str) -> str:
    """Accents and punctuation dropped, spaces collapsed; case kept (capitals matter to the footer rule)."""
    text = unicodedata.normalize("NFKD", text or "")
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return " ".join(re.sub(r"[\W_]+", " ", text).split())


# What a body must say for the footer to be left out: an instruction, not just the word. "Reply STOP to
# opt out", "Text STOP to end", "STOP to cancel", "Responde BAJA para cancelar" and "STOP au 36105" are
# instructions; "Don't STOP shopping" is not. The keyword must be in capitals, as carriers expect it: a
# missed instruction costs a second footer, a false one leaves a person without the way out.
# Only keywords written in letters ("STOP", "BAJA", "ARRET"); an emoji or a word that plain text can't hold
# would add an empty alternative and match anything.
_KEYWORDS = "|".join(
    sorted({re.escape(_plain(w).upper()) for w in DEFAULT_OPT_OUT_WORDS if _plain(w)}, key=len, reverse=True)
)
_SEND_VERBS = (
    "reply|text|txt|send|sms|respond"
    "|responde|responda|contesta|conteste|envia|envie|manda|mande|escribe|escriba"  # Spanish
    "|repondez|reponds|repondre|envoyez|envoie|envoyer|tapez"  # French
)
_FILLERS = "with|the|word|us|con|la|palabra|nos|par|le|mot|nous"
_OPT_OUT_ENDS = (
    "opt out|optout|opt-out|unsubscribe|cancel|end|stop|quit|be removed|stop receiving|no longer receive"
    "|cancelar|darte de baja|darse de baja|dar de baja|salir|dejar de recibir|no recibir mas"  # Spanish
    "|vous desabonner|vous desinscrire|se desabonner|arreter|annuler|ne plus recevoir"  # French
)
_OPT_OUT_INSTRUCTION = re.compile(
    rf"(?i:\b(?:{_SEND_VERBS}))(?: (?i:{_FILLERS})){{0,3}} (?:{_KEYWORDS})\b"  # Reply STOP, Text the word END
    rf"|\b(?:{_KEYWORDS}) (?i:to|para|pour) (?i:{_OPT_OUT_ENDS})\b"  # STOP to cancel, BAJA para salir
    rf"|\b(?:{_KEYWORDS}) (?i:to|al|au) \d{{3,}}\b"  # STOP au 36105
)


def opt_out_instruction_present(text: str) -> bool:
    """Whether `text` tells the reader how to opt out (English, Spanish, French), not merely says STOP."""
    return bool(_OPT_OUT_INSTRUCTION.search(_plain(text)))


def message_max_characters() -> int:
    return settings.CAMPAIGN_MESSAGE_MAX_CHARACTERS


def contact_fields(contact) -> dict:
    """The only data a campaign body may use: the contact's own fields, as plain strings."""
    attributes = contact.attributes if isinstance(contact.attributes, dict) else {}
    # A value longer than a whole text could never be sent; cutting it keeps rendering small.
    limit = message_max_characters()
    return {
        "first_name": contact.first_name or "",
        "last_name": contact.last_name or "",
        "email": contact.email or "",
        "attributes": {
            str(k): v[:limit] if isinstance(v, str) else v
            for k, v in attributes.items()
            if isinstance(v, (str, int, float, bool))
        },
    }


def _refuse(message: str):
    raise ValidationError({"body": message})


def _check_variable(var) -> None:
    if not isinstance(var, Variable) or var.lookups is None:
        return  # a literal: "there", 3
    lookups = var.lookups
    if (lookups[0] in _PLAIN_FIELDS and len(lookups) == 1) or (lookups[0] == "attributes" and len(lookups) == 2):
        return
    _refuse(f"“{{{{ {var.var} }}}}” is not a contact field. Use {_FIELDS_HELP}.")


def _check_expression(expression: FilterExpression) -> int:
    """Refuse unknown fields and filters; return the length of the literal text the expression carries."""
    _check_variable(expression.var)
    literal = len(expression.var) if isinstance(expression.var, str) else 0
    for func, args in expression.filters:
        name = _FILTER_NAMES.get(func, getattr(func, "__name__", "?"))
        if name not in ALLOWED_FILTERS:
            allowed = ", ".join(sorted(ALLOWED_FILTERS))
            _refuse(f"The “{name}” filter can't be used in a message. Use one of: {allowed}.")
        for is_lookup, arg in args:
            if is_lookup:
                _check_variable(arg)
            else:
                literal += len(str(arg))
    return literal


def _condition_expressions(condition):
    """The filter expressions inside an {% if %} condition (a tree of operators over literals)."""
    if condition is None:
        return
    if isinstance(getattr(condition, "value", None), FilterExpression):
        yield condition.value
    for side in ("first", "second"):
        yield from _condition_expressions(getattr(condition, side, None))


def _refuse_tag(tag: str):
    *others, last = (f"{{% {name} %}}" for name in ALLOWED_TAGS.values())
    _refuse(f"The {{% {tag} %}} tag can't be used in a message. Use {', '.join(others)} or {last}.")


# The engine knows only the tags a body's own context needs, so another tag is a syntax error there.
_UNKNOWN_TAG = re.compile(r"Invalid block tag on line \d+: '([^']+)'")


def _check_nodes(nodelist) -> int:
    """Refuse what a body may not use; return the length of all its literal text, every branch included."""
    literal = 0
    for node in nodelist:
        if isinstance(node, TextNode):
            literal += len(node.s)
        elif isinstance(node, VariableNode):
            literal += _check_expression(node.filter_expression)
        elif type(node) not in ALLOWED_TAGS:
            _refuse_tag(node.token.contents.split()[0] if getattr(node, "token", None) else type(node).__name__)
        elif isinstance(node, IfNode):
            for condition, branch in node.conditions_nodelists:
                for expression in _condition_expressions(condition):
                    literal += _check_expression(expression)
                literal += _check_nodes(branch)
        elif isinstance(node, FirstOfNode):
            literal += sum(_check_expression(expression) for expression in node.vars)
    return literal


def body_compile(body: str):
    """Compile a body or raise a ValidationError saying what is wrong with it. Nothing is rendered."""
    try:
        template = _ENGINE.from_string(body)
    except TemplateSyntaxError as error:
        if unknown := _UNKNOWN_TAG.match(str(error)):
            _refuse_tag(unknown.group(1))
        raise ValidationError({"body": f"The message has a template error: {error}"}) from None
    literal = _check_nodes(template.nodelist)
    limit = message_max_characters()
    if literal > limit:
        _refuse(f"The message's own text is {literal:,} characters before personalisation; "
                f"one text carries at most {limit:,}.")  # fmt: skip
    return template


@lru_cache(maxsize=256)
def _body_instructs_opt_out(body: str) -> bool:
    """Whether the body itself, with every contact field empty, tells people how to opt out."""
    return opt_out_instruction_present(_render(body_compile(body), {}))


def _render(template, contact_fields: dict) -> str:
    context = {name: contact_fields.get(name, {} if name == "attributes" else "") for name in CONTACT_FIELDS}
    try:
        return template.render(Context(context, autoescape=False)).strip()
    except Exception as error:  # a filter given a bad argument fails only at render time
        raise ValidationError({"body": f"The message could not be rendered: {error}"}) from None


def message_compose(*, body: str, program, contact_fields: dict, template=None) -> str:
    """The final text: the body rendered with `contact_fields`, then brand prefix and opt-out footer as needed.

    Pass `template` (from `body_compile`) to render many contacts without recompiling. Raises a
    ValidationError when the text would be longer than one message may be.
    """
    template = template or body_compile(body)
    text = _render(template, contact_fields)
    # The body's own words must carry the instruction: a contact's field ("Reply STOP to end" as a
    # first name) or a branch only some contacts see never stands in for the footer.
    instructed = opt_out_instruction_present(text) and _body_instructs_opt_out(body)
    brand = (program.brand or "").strip()
    if settings.CAMPAIGN_BRAND_PREFIX and brand and brand.lower() not in text.lower():
        text = f"{brand}: {text}"
    footer = settings.CAMPAIGN_OPT_OUT_FOOTER.strip()
    if footer and not instructed:
        text = f"{text}\n{footer}"
    limit = message_max_characters()
    if len(text) > limit:
        _refuse(f"The message is {len(text):,} characters for this contact; one text carries at most {limit:,}.")
    return text


def campaign_render(campaign, contact) -> str:
    return message_compose(body=campaign.body, program=campaign.program, contact_fields=contact_fields(contact))
