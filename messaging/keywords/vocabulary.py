# ruff: noqa: E501  (one line per group of defaults, unbroken, so each reads with its source)
"""The default vocabulary: every keyword and phrase the product reads replies with, and where each comes from.

These are defaults: a data migration stores them as `KeywordRule` rows that
staff edit in the admin, and the classifier reads those rows. The FCC's seven
words always opt out, whatever the rows say (`FCC_TERMS`).

Meanings: opt_out, opt_in, help, review (might be an opt-out: a person reads
it), no_action (plainly not an opt-out: left alone). Matches: word (the whole
message; an opt-out word also at the start, at the end after other words, or
as a sentence of its own), exact (the whole message or a sentence of its own),
phrase (anywhere in the message).
"""

from dataclasses import dataclass

OPT_OUT = "opt_out"
OPT_IN = "opt_in"
HELP = "help"
REVIEW = "review"
NO_ACTION = "no_action"

WORD = "word"
EXACT = "exact"
PHRASE = "phrase"


@dataclass(frozen=True)
class Term:
    text: str
    meaning: str
    match: str = WORD
    language: str = ""
    source: str = ""
    rule_id: int | None = None  # the KeywordRule row it was read from, when it was


# Where the defaults come from. Each is short enough for KeywordRule.source.
FCC = "FCC 24-24 (2024): words that always revoke consent in reply to a text"
TWILIO = "Twilio's default opt-out, opt-in and help keywords"
AWS = "AWS End User Messaging's required opt-out keywords"
CANADA_FR = "French keywords Canadian carriers require (ARRET, AIDE)"
CHINA = "Chinese SMS convention: marketing texts end with 回复TD退订 (reply TD to unsubscribe)"
PRODUCT = "smsconsent's documented keywords (the external interface)"
EMOJI = "The stop sign (U+1F6D1) people reply with; other refusal signs go to review"
PLAIN = "Plain-language request (FCC: revocation by any reasonable means)"
REVIEW_HINT = "Often sent by people who don't want the texts: a person reads it"
ACK = "Everyday acknowledgement or thanks: plainly not an opt-out"
QUESTION = "An everyday customer question: plainly not an opt-out"
CONVENTION_ES = "Spanish-language marketing convention (Envía BAJA) and everyday Spanish for stop"
CONVENTION_PT = "Brazilian marketing convention (responda SAIR) and everyday Portuguese for stop"
EVERYDAY = {
    "es": "Everyday Spanish for stop / unsubscribe",
    "fr": "Everyday French for stop / unsubscribe",
    "pt": "Everyday Portuguese for stop / unsubscribe",
    "de": "Everyday German for stop / unsubscribe (STOPP is the German spelling)",
    "it": "Everyday Italian for stop / unsubscribe",
    "zh": "Everyday Chinese for unsubscribe / stop sending",
}


def _terms(meaning: str, match: str, language: str, source: str, texts: str) -> list[Term]:
    return [Term(t.strip(), meaning, match, language, source) for t in texts.split("|") if t.strip()]


FCC_TERMS = tuple(_terms(OPT_OUT, WORD, "en", FCC, "STOP|QUIT|END|REVOKE|OPT OUT|CANCEL|UNSUBSCRIBE"))

DEFAULT_TERMS: tuple[Term, ...] = (
    *FCC_TERMS,
    *_terms(OPT_OUT, WORD, "en", TWILIO, "STOPALL|OPTOUT"),
    *_terms(OPT_OUT, WORD, "en", PRODUCT, "OPT-OUT|STOP ALL|UNSUB"),
    *_terms(OPT_OUT, EXACT, "en", AWS, "REMOVE"),
    *_terms(OPT_OUT, EXACT, "zh", CHINA + "; also in " + AWS, "TD"),
    *_terms(OPT_OUT, EXACT, "zh", EVERYDAY["zh"], "取消"),
    *_terms(OPT_OUT, WORD, "", EMOJI, "🛑"),
    # Spanish
    *_terms(OPT_OUT, WORD, "es", PRODUCT, "PARAR|CANCELAR|DETENER|BAJA"),
    *_terms(
        OPT_OUT, WORD, "es", CONVENTION_ES, "DESUSCRIBIR|DESUSCRIBIRME|CANCELAR SUSCRIPCION|DARME DE BAJA|DAR DE BAJA"
    ),
    *_terms(OPT_OUT, EXACT, "es", CONVENTION_ES, "ALTO|REMOVER"),
    # French
    *_terms(OPT_OUT, WORD, "fr", PRODUCT + "; " + CANADA_FR, "ARRET|ARRÊT|ARRETE"),
    *_terms(
        OPT_OUT,
        WORD,
        "fr",
        EVERYDAY["fr"],
        "ARRÊTEZ|ARRÊTER|DÉSABONNER|DÉSABONNEZ|DÉSABONNEMENT|DÉSINSCRIRE|DÉSINSCRIPTION|DÉSINSCRIVEZ MOI|ANNULER",
    ),
    # Portuguese
    *_terms(
        OPT_OUT, WORD, "pt", CONVENTION_PT, "SAIR|PARE|DESCADASTRAR|DESCADASTRE|DESCADASTRAR ME|CANCELAR INSCRIÇÃO"
    ),
    # German
    *_terms(OPT_OUT, WORD, "de", EVERYDAY["de"], "STOPP|ABMELDEN|ABBESTELLEN|AUSTRAGEN|KÜNDIGEN|BEENDEN|AUFHÖREN"),
    # Italian
    *_terms(
        OPT_OUT,
        WORD,
        "it",
        EVERYDAY["it"],
        "BASTA|ANNULLA|CANCELLA|CANCELLAMI|DISISCRIVI|DISISCRIVIMI|DISISCRIVERMI|RIMUOVIMI",
    ),
    # Chinese: matched anywhere, as Chinese is written without spaces.
    *_terms(OPT_OUT, PHRASE, "zh", CHINA, "退订|退訂"),
    *_terms(
        OPT_OUT,
        PHRASE,
        "zh",
        EVERYDAY["zh"],
        "取消订阅|取消訂閱|不要再发|不要再發|别再发|別再發|别发|別發|不要发|不要發|不要再给我发|停止发送|停止發送",
    ),
    # Plain-language phrases (the patterns in patterns.py cover the many other forms)
    *_terms(
        OPT_OUT,
        PHRASE,
        "en",
        PLAIN,
        "remove me|please remove|take me off|no more texts|no more text|no more messages|no more msgs|stop texting|stop messaging|stop sending|stop contacting|please stop|pls stop|plz stop|unsubscribe|opt me out|dont text|do not text|dont message|do not message|dont contact|do not contact|leave me alone",
    ),
    *_terms(
        OPT_OUT, PHRASE, "es", PLAIN, "no mas|no me envien|no me manden|no me escriban|dejen de enviar|dejen de mandar"
    ),
    *_terms(OPT_OUT, PHRASE, "fr", PLAIN, "ne plus recevoir|laissez moi tranquille"),
    *_terms(OPT_OUT, PHRASE, "pt", PLAIN, "nao quero mais|me deixa em paz"),
    *_terms(OPT_OUT, PHRASE, "de", PLAIN, "keine sms mehr|keine nachrichten mehr"),
    *_terms(OPT_OUT, PHRASE, "it", PLAIN, "non voglio piu|lasciatemi in pace"),
    # Opt in again / confirm, and help (Twilio's defaults; AIDE for French Canada)
    *_terms(OPT_IN, WORD, "en", TWILIO, "START|UNSTOP|YES"),
    *_terms(HELP, WORD, "en", TWILIO, "HELP|INFO"),
    *_terms(HELP, WORD, "fr", CANADA_FR, "AIDE"),
    # Might be an opt-out: a person reads it.
    *_terms(REVIEW, WORD, "en", REVIEW_HINT, "NO|NOPE|NAH|ENOUGH|BYE|GOODBYE|SPAM|WTF"),
    *_terms(REVIEW, WORD, "es", REVIEW_HINT, "ADIOS"),
    *_terms(REVIEW, WORD, "fr", REVIEW_HINT, "NON|FIN"),
    *_terms(REVIEW, WORD, "pt", REVIEW_HINT, "NÃO|CHEGA"),
    *_terms(REVIEW, WORD, "de", REVIEW_HINT, "NEIN|ENDE"),
    *_terms(REVIEW, WORD, "", EMOJI, "⛔|🚫"),
    *_terms(
        REVIEW,
        PHRASE,
        "en",
        REVIEW_HINT,
        "who is this|who dis|whos this|what is this|wrong number|wrong person|wrong #|how did you get my number|why are you texting|i didnt sign up|i did not sign up|spam|no thanks|no thank you|too many texts|too many messages|so many texts|so many messages|fewer texts|less texts|harassment|harassing|annoying|reporting you|report you|lawyer|attorney|fcc|tcpa|block this number|blocking this number|blocking you|still getting these",
    ),
    *_terms(
        REVIEW,
        PHRASE,
        "es",
        REVIEW_HINT,
        "quien es|quien habla|numero equivocado|no gracias|que es esto|por que me escriben",
    ),
    *_terms(
        REVIEW, PHRASE, "fr", REVIEW_HINT, "qui est ce|c est qui|mauvais numero|non merci|plus de sms|plus de messages"
    ),
    *_terms(REVIEW, PHRASE, "pt", REVIEW_HINT, "quem e|quem fala|numero errado|nao obrigado|nao obrigada"),
    *_terms(REVIEW, PHRASE, "de", REVIEW_HINT, "wer ist das|wer sind sie|falsche nummer|nein danke"),
    *_terms(REVIEW, PHRASE, "it", REVIEW_HINT, "chi e|chi sei|numero sbagliato|no grazie"),
    *_terms(REVIEW, PHRASE, "zh", REVIEW_HINT, "你是谁|你是誰|打错了|打錯了|不用了|垃圾短信"),
    # Plainly not an opt-out: left alone, even from a subscribed number.
    *_terms(
        NO_ACTION,
        PHRASE,
        "en",
        ACK,
        "thanks|thank you|thx|ty|tysm|ok|okay|kk|cool|great|awesome|nice|perfect|sure|got it|sounds good|will do|lol|haha|love it|love this|love them|love these|amazing|wonderful|excellent|see you|see ya|on my way|omw|cant wait|keep them coming|keep em coming|sign me up|merry christmas|happy holidays|stopped by|stopped in",
    ),
    *_terms(NO_ACTION, WORD, "en", ACK, "K|Y|YEP|YEAH|YUP"),
    *_terms(
        NO_ACTION,
        PHRASE,
        "en",
        QUESTION,
        "what time|how much|do you have|do you deliver|where is|where are you|are you open|when do you open|is the sale|is there|can i use|how do i use|promo code|coupon code",
    ),
    *_terms(NO_ACTION, PHRASE, "es", ACK, "gracias|vale|perfecto|genial|me encanta|nos vemos"),
    *_terms(NO_ACTION, WORD, "es", ACK, "SI|OK"),
    *_terms(NO_ACTION, PHRASE, "es", QUESTION, "a que hora|cuanto cuesta|tienen envio|hasta cuando"),
    *_terms(NO_ACTION, PHRASE, "fr", ACK, "merci|d accord|super|a bientot|a samedi"),
    *_terms(NO_ACTION, WORD, "fr", ACK, "OUI"),
    *_terms(NO_ACTION, PHRASE, "fr", QUESTION, "a quelle heure|combien"),
    *_terms(NO_ACTION, PHRASE, "pt", ACK, "obrigado|obrigada|valeu|beleza|adorei|ate sabado|ate logo"),
    *_terms(NO_ACTION, WORD, "pt", ACK, "SIM"),
    *_terms(NO_ACTION, PHRASE, "pt", QUESTION, "que horas|tem entrega|quanto custa"),
    *_terms(NO_ACTION, PHRASE, "de", ACK, "danke|vielen dank|klingt gut|bis samstag|bis bald|super angebot"),
    *_terms(NO_ACTION, WORD, "de", ACK, "JA"),
    *_terms(NO_ACTION, PHRASE, "de", QUESTION, "wann haben sie|wie viel|wieviel"),
    *_terms(NO_ACTION, PHRASE, "it", ACK, "grazie|perfetto|fantastico|ci vediamo|a presto"),
    *_terms(NO_ACTION, PHRASE, "it", QUESTION, "a che ora|quanto costa"),
    *_terms(NO_ACTION, PHRASE, "zh", ACK, "谢谢|謝謝|好的|收到|几点|幾點|多少钱"),
    *_terms(NO_ACTION, WORD, "zh", ACK, "好"),
)


# The opt-out keywords a text tells people to send ("Reply STOP to opt out"): campaign bodies that
# give such an instruction need no footer (`campaigns.rendering`).
DEFAULT_OPT_OUT_WORDS = tuple(t.text for t in DEFAULT_TERMS if t.meaning == OPT_OUT and t.match in (WORD, EXACT))
