"""The fixed texts in the person's language: whole sentences translated, and no dearer to send than English."""

import pytest
from django.utils import translation

from contacts.models import Program
from messaging.segments import is_gsm7
from messaging.texts import text_double_opt_in_request, text_help, text_opt_in_confirmation

TEXTS = [text_opt_in_confirmation, text_double_opt_in_request, text_help]


def program(frequency: str) -> Program:
    return Program(brand="Acme Deals", name="Ofertas", frequency_text=frequency, help_contact="help@acme.test")


@pytest.mark.parametrize("compose", TEXTS)
@pytest.mark.parametrize(
    ("frequency", "spanish"),
    [
        ("Up to 4 msgs/month", "Hasta 4 mensajes al mes."),
        ("Up to 1 msg/month", "Hasta 1 mensaje al mes."),
        ("up to 2 messages per week", "Hasta 2 mensajes por semana."),
        ("Up to 3 texts a day", "Hasta 3 mensajes diarios."),
        ("Msg frequency varies.", "Frecuencia de mensajes variable."),
    ],
)
def test_a_spanish_text_says_the_usual_frequency_in_spanish_and_stays_in_gsm7(compose, frequency, spanish):
    with translation.override("es"):
        body = compose(program(frequency))
    assert spanish in body and is_gsm7(body)


@pytest.mark.parametrize("compose", TEXTS)
def test_a_frequency_written_another_way_is_kept_as_staff_wrote_it(compose):
    with translation.override("es"):
        assert "About 3 a week in summer." in compose(program("About 3 a week in summer"))
    with translation.override("en"):
        assert "Up to 4 msgs/month." in compose(program("Up to 4 msgs/month"))
