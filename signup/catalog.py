"""Strings other modules translate from a variable, listed so `makemessages` puts them in the catalog.

`messaging.texts` passes its RATES constant through gettext at run time;
makemessages only sees literals, so without this line the Spanish texts
would carry the English rates notice.
"""

from django.utils.translation import gettext_noop

MARKED = (gettext_noop("Msg&data rates may apply."),)
