"""The text a recipient gets: the body personalised with their own fields, plus brand and opt-out footer.

Rendering uses a template engine with no loaders and a context that is a
plain dict of the contact's own fields, so a body can never reach a model,
another template or anything else in the product.
"""

import re

from django.conf import settings
from django.core.exceptions import ValidationError
from django.template import Context, Engine, Library, TemplateSyntaxError, defaultfilters, defaulttags
from django.template.base import VariableNode

# Loaders empty: {% include %} and {% extends %} find nothing. Autoescape off: this is SMS, not HTML.
_ENGINE = Engine(dirs=[], app_dirs=False, loaders=[], libraries={}, autoescape=False, string_if_invalid="")
# Only tags that work on the body's own context. The other built-ins reach outside it: {% debug %}
# prints the process's modules and paths, {% url %} the URL map, {% now %} the server's clock,
# {% load %}, {% include %} and {% extends %} other code and templates.
_BODY_TAGS = ("if", "for", "with", "firstof", "cycle", "ifchanged", "spaceless", "filter", "comment", "verbatim",
              "templatetag", "autoescape")  # fmt: skip
_BODY_LIBRARY = Library()
_BODY_LIBRARY.filters.update(defaultfilters.register.filters)
_BODY_LIBRARY.tags.update({name: defaulttags.register.tags[name] for name in _BODY_TAGS})
_ENGINE.template_builtins = [_BODY_LIBRARY]

CONTACT_FIELDS = ("first_name", "last_name", "email", "attributes")
_STOP = re.compile(r"\bSTOP\b")


def contact_fields(contact) -> dict:
    """The only data a campaign body may use: the contact's own fields, as plain strings."""
    attributes = contact.attributes if isinstance(contact.attributes, dict) else {}
    return {
        "first_name": contact.first_name or "",
        "last_name": contact.last_name or "",
        "email": contact.email or "",
        "attributes": {str(k): v for k, v in attributes.items() if isinstance(v, (str, int, float, bool))},
    }


def body_compile(body: str):
    """Compile a body or raise a ValidationError saying what is wrong with it."""
    try:
        template = _ENGINE.from_string(body)
    except TemplateSyntaxError as error:
        raise ValidationError({"body": f"The message has a template error: {error}"}) from None
    for node in template.nodelist.get_nodes_by_type(VariableNode):
        var = node.filter_expression.var
        name = getattr(var, "var", None)
        if isinstance(name, str) and name.split(".")[0] not in CONTACT_FIELDS:
            raise ValidationError(
                {"body": f"“{{{{ {name} }}}}” is not a contact field. Use first_name, last_name, email "
                 "or attributes.<name>, e.g. {{ first_name|default:\"there\" }}."}
            )  # fmt: skip
    return template


def message_compose(*, body: str, program, contact_fields: dict, template=None) -> str:
    """The final text: the body rendered with `contact_fields`, then brand prefix and opt-out footer as needed.

    Pass `template` (from `body_compile`) to render many contacts without recompiling.
    """
    template = template or body_compile(body)
    context = {name: contact_fields.get(name, {} if name == "attributes" else "") for name in CONTACT_FIELDS}
    try:
        text = template.render(Context(context, autoescape=False)).strip()
    except Exception as error:  # a filter given a bad argument fails only at render time
        raise ValidationError({"body": f"The message could not be rendered: {error}"}) from None
    brand = (program.brand or "").strip()
    if settings.CAMPAIGN_BRAND_PREFIX and brand and brand.lower() not in text.lower():
        text = f"{brand}: {text}"
    footer = settings.CAMPAIGN_OPT_OUT_FOOTER.strip()
    if footer and not _STOP.search(text):
        text = f"{text}\n{footer}"
    return text


def campaign_render(campaign, contact) -> str:
    return message_compose(body=campaign.body, program=campaign.program, contact_fields=contact_fields(contact))
