# ruff: noqa: E501, SIM905  (patterns and word lists read best one to a line, unbroken)
"""Plain-language revocations, and the small word lists that tell a keyword's meaning from its neighbours.

Patterns run on normalised clauses (see normalize.py): lower case, no accents,
no punctuation, "don't" written "dont". They are code, not editable rows:
each is covered by the labelled corpus in messaging/tests/data/, and a
pattern a hurried edit breaks would silently drop revocations.
"""

import re

# (name, regular expression, language). An opt-out pattern preceded in its clause by a negation
# ("I don't want to unsubscribe") does not opt out.
_TEXTS = r"(?:texts?|txts?|messages?|msgs?|sms|alerts?|promos?|promotions?|notifications?|marketing|spam|ads)"
_OBJ = r"(?:me|us|this number|my number|my phone)"
_SEND = r"(?:texting|txting|messaging|msging|sending|contacting|spamming|bugging|bothering|harassing|emailing|calling)"
OPT_OUT_PATTERNS: tuple[tuple[str, str, str], ...] = (
    (
        "take me off",
        r"\b(?:take|get|put|remove|delete|drop|scratch|cross) (?:me|us|my number|my name|this number|my info)(?: \w+){0,2} (?:off|from|out of)\b",
        "en",
    ),
    ("take me off", r"\b(?:take|get) (?:me|us|my number|this number) off\b", "en"),
    ("off your list", r"\boff (?:your|the|this|ur|yalls|all) (?:\w+ )?(?:list|lists)\b", "en"),
    (
        "remove my number",
        r"\b(?:remove|delete|erase|lose|forget|scrub) (?:my|this|our) (?:number|phone number|#|info|information|contact|details)\b",
        "en",
    ),
    ("stop texting", rf"\b(?:stop|quit|cease) {_SEND}\b", "en"),
    (
        "stop the texts",
        rf"\b(?:stop|quit|cancel|end) (?:the|these|this|those|your|ur|all|all the|all these|my) (?:\w+ )?{_TEXTS}\b",
        "en",
    ),
    ("stop it", r"\b(?:stop|quit) (?:it|this|that|them|now|already|asap|immediately|right now)$", "en"),
    ("make it stop", r"\bmake (?:it|this|them|these|the texts) stop\b", "en"),
    (
        "can you stop",
        r"\b(?:can|could|would|will|pls|please) (?:you|u|ya|yall) (?:please |pls |just )?(?:stop|quit|unsubscribe|cancel|remove me|opt me out)(?: (?:it|this|that|now|please|pls|me|already))*$",
        "en",
    ),
    (
        "don't text me",
        rf"\b(?:dont|do not|never) (?:ever )?(?:text|txt|message|msg|contact|sms|send|email|call) (?:{_OBJ}|anything|any more|anymore|again)\b",
        "en",
    ),
    ("no more texts", rf"\b(?:no|not any|not) (?:more|any more|anymore|further) {_TEXTS}\b", "en"),
    ("no texts please", rf"^no {_TEXTS}(?: please| pls| thanks| thank you)?$", "en"),
    (
        "don't want texts",
        rf"\b(?:dont|do not|no longer|never) (?:want|wish|need|care) (?:to )?(?:receive |get |be getting |getting |receiving |see )?(?:any |these |this |those |your |ur |the |more |them |any more |anymore )*(?:\w+ )?{_TEXTS}\b",
        "en",
    ),
    (
        "don't want these anymore",
        r"\b(?:dont|do not) want (?:these|this|them|it|that|any of this|to get these|to get this|to receive these)(?: \w+)?(?: anymore| any more| again)\b",
        "en",
    ),
    (
        "want to opt out",
        r"\b(?:i|we) (?:want|wanna|would like|d like|need|wish|am trying|m trying) (?:to )?(?:unsubscribe|opt out|optout|be removed|get removed|be taken off|get off|stop (?:getting|receiving|these|this|the texts)|cancel(?: (?:this|these|it|the texts|my subscription))?$|quit(?: this| these)?$)",
        "en",
    ),
    ("I want out", r"\b(?:i|we) (?:want|wanna) (?:out|off)\b", "en"),
    ("leave me alone", r"\b(?:leave|let) (?:me|us) (?:alone|be)\b", "en"),
    (
        "never signed up",
        r"\b(?:never|didnt ever|did not ever) (?:signed|sign|opted|subscribed|agreed|asked)(?: up| in)?\b",
        "en",
    ),
    ("never gave permission", r"\bnever gave (?:you |u )?(?:my )?(?:permission|consent)\b", "en"),
    (
        "not interested",
        r"\b(?:not|no longer|nt) interested(?: (?:anymore|any more|thanks|thank you|thx|at all|in (?:these|this|your|ur|the|any) (?:\w+ )?(?:texts?|messages?|offers?|deals?|promos?|promotions?|stuff)))?$",
        "en",
    ),
    (
        "revoke consent",
        r"\b(?:revoke|withdraw|withdrawing|revoking|cancel|rescind) (?:my |all )?(?:consent|permission|subscription|opt in)\b",
        "en",
    ),
    ("unsubscribe me", r"\b(?:unsubscribe|unsub|opt out|cancel|remove|opt) (?:me|us|my number|this number)\b", "en"),
    (
        "cancel subscription",
        rf"^cancel (?:my|the|this|all|these|your) (?:subscription|membership to texts|{_TEXTS})\b",
        "en",
    ),
    (
        "don't want any more of these",
        r"\b(?:dont|do not) want (?:any more|anymore|more|any) (?:of )?(?:these|this|them|your|it|that)\b",
        "en",
    ),
    # Spanish
    (
        "no me envíen",
        r"\b(?:ya )?no (?:me |nos )?(?:envien|envie|envies|manden|mande|mandes|escriban|escriba|escribas|contacten|contacte|llamen|molesten|envian|mandan)\b",
        "es",
    ),
    (
        "ya no quiero",
        r"\b(?:ya )?no (?:quiero|deseo|necesito) (?:recibir |mas |ningun |ningunos |sus |tus |estos |los )*(?:mensajes|msjs|sms|textos|promociones|ofertas|esto|nada|mas)\b",
        "es",
    ),
    (
        "dejen de enviar",
        r"\b(?:deja|dejen|deje|dejar|paren|pare|para) de (?:enviar|mandar|escribir|molestar|contactar|llamar)\w*",
        "es",
    ),
    ("darme de baja", r"\b(?:dar|darme|dame|denme|deme|doy|darse|me doy|quiero darme|dese|darnos) de baja\b", "es"),
    (
        "quítenme de la lista",
        r"\b(?:quit|saqu|sac|borr|elimin|remuev|retir|baj)\w*(?:me|nos) (?:de )?(?:la|su|esta|sus|tu|vuestra|las|de la|de su|de esta) ?(?:lista|listas|base de datos)\b",
        "es",
    ),
    (
        "eliminar mi número",
        r"\b(?:eliminar|borrar|eliminen|borren|quiten|quitar|elimina|borra|quita) (?:mi|este) (?:numero|telefono|celular)\b",
        "es",
    ),
    ("no me interesa", r"\bno (?:me interesa|me interesan|estoy interesad[oa]|estamos interesad[oa]s)\b", "es"),
    ("déjenme en paz", r"\b(?:dejame|dejenme|dejeme|dejanos|dejennos) en paz\b", "es"),
    ("no más mensajes", r"\bno mas (?:mensajes|msjs|sms|textos|promociones|por favor|gracias)\b", "es"),
    # French
    (
        "je ne veux plus",
        r"\bne (?:veux|voulons|souhaite|desire) plus(?: \w+){0,3} (?:sms|messages?|textos?|recevoir|rien|vos|de vos|ces|ca)\b",
        "fr",
    ),
    ("ne m'envoyez plus", r"\bn(?:e)? (?:m |nous )?(?:envoy|ecri|contact|appel)\w* plus\b", "fr"),
    ("arrêtez de m'envoyer", r"\barret\w* (?:de |d )?(?:m |nous )?(?:envoy|ecri|contact|spam|harcel)\w*", "fr"),
    (
        "laissez-moi tranquille",
        r"\b(?:laissez|laisse|fichez|foutez|fiche|fous) (?:moi|nous) (?:tranquilles?|en paix|la paix)\b",
        "fr",
    ),
    (
        "retirez-moi de la liste",
        r"\b(?:retir|enlev|supprim|desinscri|desabonn)\w* (?:moi|nous|mon numero|mes coordonnees)\b",
        "fr",
    ),
    (
        "je veux me désabonner",
        r"\b(?:je veux|je voudrais|je souhaite|jaimerais) (?:me )?(?:desabonner|desinscrire|arreter|ne plus recevoir)\b",
        "fr",
    ),
    ("pas intéressé", r"\bpas interess(?:e|ee|es|ees)\b|\bca ne m interesse pas\b", "fr"),
    ("annuler l'abonnement", r"\bannul\w* (?:l |mon |cet |l )?(?:abonnement|inscription)\b", "fr"),
    ("ne plus m'envoyer", r"\bne plus (?:m |nous )?(?:envoy|ecri|contact|appel|recevoir)\w*", "fr"),
    (
        "me retirer de la liste",
        r"\b(?:me|nous) (?:retirer|desinscrire|desabonner|supprimer|enlever)\b|\b(?:retir|enlev|supprim)\w* (?:de |d )?(?:votre|la|vos|cette) (?:liste|fichier)",
        "fr",
    ),
    # Portuguese
    ("não quero mais", r"\bnao (?:quero|desejo) (?:mais|receber)(?: \w+){0,3}\b", "pt"),
    ("não me mandem mais", r"\bnao (?:me )?(?:mand|envi|escrev|ligu)\w* mais\b", "pt"),
    (
        "parem de mandar",
        r"\b(?:para|parem|pare|parar|deixa|deixem|deixe) de (?:me )?(?:mandar|enviar|escrever|ligar|incomodar)\w*",
        "pt",
    ),
    (
        "me tira da lista",
        r"\bme (?:tira|tire|tirem|remova|remove|removam|exclua|excluam|descadastr\w*|retire)(?: \w+){0,2} (?:lista|listas|cadastro)\b",
        "pt",
    ),
    (
        "quero sair",
        r"\b(?:quero|queria|gostaria de) (?:sair|me descadastrar|descadastrar|cancelar|parar de receber)\b",
        "pt",
    ),
    ("sair da lista", r"\bsair (?:da|dessa|desta) lista\b", "pt"),
    ("não tenho interesse", r"\bnao tenho (?:mais )?interesse\b|\bnao (?:estou|to) interessad[oa]\b", "pt"),
    ("me deixa em paz", r"\bme (?:deixa|deixe|deixem) em paz\b", "pt"),
    ("descadastrar", r"\b(?:me )?descadastr\w*", "pt"),
    # German
    (
        "ich möchte mich abmelden",
        r"\b(?:mochte|will|wurde gerne|mochten|wollen) (?:mich |uns )?(?:bitte )?(?:abmelden|austragen|abbestellen|kundigen)\b",
        "de",
    ),
    (
        "keine SMS mehr",
        r"\bkeine (?:sms|nachrichten|werbung|textnachrichten|mitteilungen|angebote|werbe sms)(?: \w+){0,2} mehr\b",
        "de",
    ),
    ("hört auf", r"\b(?:hor|hort|horen|hore) (?:sie |ihr |bitte )?auf\b", "de"),
    ("lassen Sie mich in Ruhe", r"\b(?:lass|lasst|lassen sie) (?:mich|uns) (?:bitte )?in ruhe\b", "de"),
    ("kein Interesse", r"\bkein interesse\b|\bnicht (?:mehr )?interessiert\b", "de"),
    (
        "löschen Sie meine Nummer",
        r"\blosch\w*(?: sie)? (?:bitte )?(?:meine|die) (?:nummer|handynummer|telefonnummer|daten)\b",
        "de",
    ),
    # Italian
    (
        "non mandatemi più",
        r"\bnon (?:mi )?(?:mandate|inviate|scrivete|mandatemi|inviatemi|scrivetemi|contattatemi|mandare|inviare|scrivere)\w*(?: piu)?\b",
        "it",
    ),
    ("smettetela di scrivermi", r"\bsmett\w* (?:di )?(?:scriver|mandar|inviar|contattar|disturbar)\w*", "it"),
    (
        "toglietemi dalla lista",
        r"\b(?:togli|toglie|rimuov|cancell|elimin)\w* (?:dalla|dalle|dai|da) (?:lista|liste|contatti|vostra lista)\b",
        "it",
    ),
    ("rimuovete il mio numero", r"\b(?:rimuov|cancell|elimin)\w* il mio numero\b", "it"),
    (
        "voglio disiscrivermi",
        r"\b(?:voglio|vorrei) (?:disiscrivermi|cancellarmi|essere rimoss[oa]|uscire|annullare)\b",
        "it",
    ),
    ("disiscrivetemi", r"\b(?:disiscriv|cancellatemi|cancellami|rimuovetemi|rimuovimi|toglietemi|toglimi)\w*", "it"),
    ("lasciatemi in pace", r"\blascia(?:te)?mi in pace\b", "it"),
    ("non mi interessa", r"\bnon (?:mi interessa|mi interessano|sono interessat[oa])\b", "it"),
)

# Might be an opt-out: a person reads it.
REVIEW_PATTERNS: tuple[tuple[str, str, str], ...] = (
    (
        "how did you get my number",
        r"\b(?:how|where) (?:did|do|does) (?:you|u|ya|yall) (?:get|find|have|obtain) (?:my|this) (?:number|#|info|phone)\b",
        "en",
    ),
    ("who gave you my number", r"\bwho gave (?:you|u) (?:my|this) (?:number|#)\b", "en"),
    (
        "why do you keep texting",
        r"\bwhy (?:do|are|r|does|is) (?:you|u|yall|this number|this)(?: \w+)? (?:keep )?(?:texting|messaging|sending|contacting)\b",
        "en",
    ),
    (
        "don't like these texts",
        rf"\b(?:dont|do not) (?:like|need|enjoy) (?:these|this|your|the|all these|getting) (?:\w+ )?{_TEXTS}\b",
        "en",
    ),
    (
        "stop as a question",
        r"\b(?:when|how) (?:will|does|do|can) (?:this|it|these|the texts|i) (?:stop|end|unsubscribe|opt out|cancel)\b",
        "en",
    ),
    (
        "cómo consiguieron mi número",
        r"\bcomo (?:consiguieron|obtuvieron|tienen|consiguio|obtuvo|tiene) (?:mi|este) numero\b",
        "es",
    ),
    (
        "comment avez-vous eu mon numéro",
        r"\b(?:comment|ou) (?:avez vous|vous avez) (?:eu|obtenu|trouve) mon numero\b",
        "fr",
    ),
    ("como conseguiram meu número", r"\bcomo (?:conseguiram|conseguiu|tem|obtiveram) (?:o )?meu numero\b", "pt"),
    ("woher haben Sie meine Nummer", r"\bwoher (?:haben sie|habt ihr|hast du) (?:meine|diese) nummer\b", "de"),
    ("come avete avuto il mio numero", r"\bcome (?:avete|hai) (?:avuto|preso|trovato) il mio numero\b", "it"),
)

# Our own opt-out instruction, quoted back ("Reply STOP to opt out"): not itself a request.
INSTRUCTION = re.compile(
    r"\b(?:reply|text|txt|send|respond|responda|responde|envia|envie|repondez|antworte|rispondi)(?: with)? (?:stop|end|quit|cancel|unsubscribe|stopall|baja|arret|sair|stopp) (?:to|para|pour|um|per)\b"
)

# A tapback (iPhone) or reaction (Android) to one of our texts, sent as SMS: it quotes our own text,
# opt-out footer included, so the quote must not be read as the person's words.
TAPBACK = re.compile(
    r"^\s*(liked|loved|laughed at|emphasized|emphasised|disliked|questioned|reacted \S{1,8} to|removed a \w+ from)\s+[“\"«„'‘].*[”\"»“'’]\s*$",
    re.IGNORECASE | re.DOTALL,
)
TAPBACK_POSITIVE = ("liked", "loved", "laughed at")

# Words that negate a keyword or phrase right after them (through the FILLERS below):
# "don't stop", "I don't want to unsubscribe", "n'arrêtez pas", "non stop".
NEGATORS = frozenset(
    "dont not never cant cannot wont didnt doesnt shouldnt wouldnt aint n ne non nao nunca jamais nicht nie".split()
)
FILLERS = frozenset(
    "want wanna need to you u ya ever please pls plz really even me going gonna gotta dare just yet said say ever".split()
)
# Words after which a trailing opt-out keyword is still a request: "ok stop", "thanks but stop", "bitte abmelden".
LEAD_WORDS = frozenset(
    """ok okay k please pls plz just so now seriously srsly omg ugh god jeez geez dude bro man guys yall again
    already enough said told u you thanks thank thx ty bye goodbye but and then lol lmao fine alright
    por favor favor gracias svp merci stp bitte danke grazie obrigado obrigada aber mais pero ma""".split()
)
# A keyword in another sense: "stop by", "bus stop", "end of season", "the sale ends". Keys are the
# keyword; values are the words before or after it that make it so.
BENIGN_BEFORE = {
    "stop": frozenset("bus pit one last next full truck rest non photo whistle shop the a".split()),
    "end": frozenset(
        """the an sale deal deals offer offers promo promotion coupon it season week weekend month year day dead
        deep back front high low tail happy rear west east""".split()
    ),
}
BENIGN_AFTER = {
    "stop": frozenset("by in over at shop sign smiling".split()),
    "end": frozenset("of date time up on at soon today tonight tomorrow sunday monday friday saturday".split()),
}
# A message that starts with one of these keywords about another object is not an opt-out by itself
# ("Cancel my order"): it goes to a person.
OTHER_OBJECTS = {
    "cancel": frozenset("order appointment reservation booking delivery payment table pickup".split()),
    "cancelar": frozenset("pedido cita reserva compra".split()),
    "annuler": frozenset("commande rendez reservation".split()),
    "annulla": frozenset("ordine prenotazione appuntamento".split()),
    "remove": frozenset("item items onions cart order".split()),
}
# Common words one letter away from an opt-out keyword: not misspellings of it.
REAL_WORDS = frozenset(
    """shop step top tops atop stoop stomp strop slop stow stone store sto spot stops stopp
    quite quiet quilt quiz suit quid quip quin qui quint quits
    cancer cancels canceled cancelled remote removed remover removes revoked
    para pare pasar pagar parad padre parte pared pares parar paro
    said hair fair pair sail stair sari sais sait
    caja bala paja bajo baje raja maja bajar bata baba
    also auto alta altos salto
    pasta vasta casta basto bastas hasta
    arrest arrets arreter arrete arretez
    anmelden beendet beende cancello cancelli retener detenerse""".split()
)
