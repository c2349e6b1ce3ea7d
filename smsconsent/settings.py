"""Settings for smsconsent, read from the environment (see `.env.example`).

Every compliance rule is a setting here with the default from the rules we
encode, never a constant buried in the code that applies it.
"""

import secrets
from datetime import timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


class _Env(environ.Env):
    """`environ.Env` that refuses, naming the variable, a value its setting can't hold.

    A price of "abc" or a flag of "of" must stop every process at start (web, worker, beat),
    not become a 500 on the first request or, worse, quietly read as "off".
    """

    _BOOL_WORDS = {*environ.Env.BOOLEAN_TRUE_STRINGS, "false", "off", "no", "n", "0", ""}

    def get_value(self, var, cast=None, default=environ.Env.NOTSET, parse_default=False):
        raw = self.ENVIRON.get(f"{self.prefix}{var}")
        if cast is bool and raw is not None and raw.strip().lower() not in self._BOOL_WORDS:
            raise ImproperlyConfigured(f"{var}={raw!r} is not a yes/no value: use 1 or 0.")
        try:
            return super().get_value(var, cast=cast, default=default, parse_default=parse_default)
        except ValueError:
            expected = "a list of numbers" if isinstance(cast, list) else {int: "a whole number"}.get(cast, "a number")
            raise ImproperlyConfigured(f"{var}={raw!r} is not {expected}.") from None


env = _Env()
# A local `.env` is a convenience for development; the process environment wins.
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=False)

# Production refuses to start without a real key; development gets a random
# one per process (sessions don't survive a restart, which is fine there).
SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        from django.core.exceptions import ImproperlyConfigured

        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG=0.")
    SECRET_KEY = secrets.token_urlsafe(50)

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "devphone",  # before the admin: it adds its link to the admin's header
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "phonenumber_field",
    "axes",
    "csp",
    "contacts",
    "messaging",
    "campaigns",
    "signup",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "smsconsent.control_characters.ControlCharactersMiddleware",  # NUL refused, other controls removed
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "campaigns.staff_time.StaffTimeZoneMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_permissions_policy.PermissionsPolicyMiddleware",
    "axes.middleware.AxesMiddleware",  # last, as django-axes requires
]

ROOT_URLCONF = "smsconsent.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

WSGI_APPLICATION = "smsconsent.wsgi.application"

# --- Database ---------------------------------------------------------------
(BASE_DIR / "var" / "static").mkdir(parents=True, exist_ok=True)  # whitenoise expects STATIC_ROOT
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'var' / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # IMMEDIATE makes concurrent writers (web + worker) queue instead of
    # failing, and keeps the ledger's read-last-hash-then-append serialized.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"transaction_mode": "IMMEDIATE", "timeout": 20, "init_command": "PRAGMA journal_mode=WAL;"}
    )
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
    DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", True)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis, cache, Celery ---------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="redis://127.0.0.1:6379/0")
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": env.str("CACHE_KEY_PREFIX", default="smsconsent"),
    }
}
CELERY_BROKER_URL = REDIS_URL
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ACKS_LATE = False  # only idempotent tasks opt in, per task
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_BEAT_SCHEDULE_FILENAME = str(BASE_DIR / "var" / "celerybeat-schedule")
# Schedules live in the database; these periodic tasks only look for what is due.
CELERY_BEAT_SCHEDULE = {
    "campaigns-start-due": {"task": "campaigns.tasks.campaigns_start_due", "schedule": 10.0},
    "consent-expire-pending": {"task": "signup.tasks.pending_consents_expire", "schedule": 300.0},
    "messaging-early-statuses-purge": {"task": "messaging.tasks.early_statuses_purge_task", "schedule": 3600.0},
}

# --- Auth, i18n, static -------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("es", "Español")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
# The time zone staff see and enter times in, unless they choose their own (admin: "My time zone").
STAFF_TIME_ZONE = env.str("STAFF_TIME_ZONE", default=TIME_ZONE)
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
# `manage.py collectstatic --noinput` fills it; with DEBUG=0 whitenoise serves it (and only it).
STATIC_ROOT = BASE_DIR / env.str("STATIC_ROOT", default="var/static")  # relative to the project, or absolute
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

# --- Security (production) ----------------------------------------------------
if not DEBUG:
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_CONTENT_TYPE_NOSNIFF = True

# --- Behind a proxy, admin logins, security headers, error reports ------------------
# Trust a proxy's header only when one is configured: otherwise any client could send it.
# The header a TLS-terminating proxy sets to "https", e.g. HTTP_X_FORWARDED_PROTO (empty: no proxy sets one).
TRUSTED_PROXY_PROTO_HEADER = env.str("TRUSTED_PROXY_PROTO_HEADER", default="")
if TRUSTED_PROXY_PROTO_HEADER:
    SECURE_PROXY_SSL_HEADER = (TRUSTED_PROXY_PROTO_HEADER, "https")
# Header holding the client IP when behind trusted proxies, e.g. "HTTP_X_FORWARDED_FOR" (empty: REMOTE_ADDR),
# and how many proxies of ours append to it: the client's address is that many values from the right.
TRUSTED_PROXY_IP_HEADER = env.str("TRUSTED_PROXY_IP_HEADER", default="")
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=1)
if TRUSTED_PROXY_IP_HEADER and TRUSTED_PROXY_COUNT < 1:
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured("TRUSTED_PROXY_COUNT must be at least 1 when TRUSTED_PROXY_IP_HEADER is set.")

# Admin logins (django-axes): after AXES_FAILURE_LIMIT wrong passwords for one username, or from one
# address, logins stop for AXES_COOLOFF_MINUTES, counted in the database so every web process agrees.
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
AXES_HANDLER = "axes.handlers.database.AxesDatabaseHandler"
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]  # either one reaching the limit locks
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_MINUTES = env.int("AXES_COOLOFF_MINUTES", default=15)
AXES_COOLOFF_TIME = timedelta(minutes=AXES_COOLOFF_MINUTES)
# A lockout ends on time even while someone keeps trying, so an attacker can't keep staff out for good.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "smsconsent.lockout.login_lockout_response"
AXES_CLIENT_IP_CALLABLE = "contacts.services.client_ip"  # the same address rate limits and evidence use
AXES_VERBOSE = False  # no banner on every command; lockouts are still logged as warnings

# Content-Security-Policy (django-csp): scripts, styles and everything else only from this site; no inline
# code, no framing, forms post only here. The admin, the campaign and program pages and the public forms fit.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
        "base-uri": ["'none'"],
        "object-src": ["'none'"],
    },
}
# Powerful browser features nobody here needs are switched off for every page and frame.
PERMISSIONS_POLICY = {
    feature: []
    for feature in ("accelerometer", "camera", "display-capture", "geolocation", "gyroscope", "magnetometer",
                    "microphone", "midi", "payment", "usb", "browsing-topics", "interest-cohort")
}  # fmt: skip

# Error pages and mailed error reports mask passwords inside URLs (REDIS_URL, the broker, the cache)
# as well as the settings Django already hides by name.
DEFAULT_EXCEPTION_REPORTER_FILTER = "smsconsent.error_reports.UrlPasswordSafeExceptionReporterFilter"

# --- Phone numbers ------------------------------------------------------------
PHONENUMBER_DEFAULT_REGION = env.str("PHONENUMBER_DEFAULT_REGION", default="US")
PHONENUMBER_DB_FORMAT = "E164"
# Countries we accept numbers from (ISO codes). US first, per the rules we encode.
SMS_ALLOWED_REGIONS = env.list("SMS_ALLOWED_REGIONS", default=["US", "CA"])

# --- SMS transport ------------------------------------------------------------
TWILIO_ACCOUNT_SID = env.str("TWILIO_ACCOUNT_SID", default="")
TWILIO_AUTH_TOKEN = env.str("TWILIO_AUTH_TOKEN", default="")
# Texts go to the console unless Twilio credentials are given (or a backend is named).
SMS_BACKEND = env.str("SMS_BACKEND", default="twilio" if TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN else "console")
TWILIO_MESSAGING_SERVICE_SID = env.str("TWILIO_MESSAGING_SERVICE_SID", default="")
TWILIO_FROM_NUMBER = env.str("TWILIO_FROM_NUMBER", default="")
TWILIO_API_BASE_URL = env.str("TWILIO_API_BASE_URL", default="https://api.twilio.com")
TWILIO_TIMEOUT_SECONDS = env.float("TWILIO_TIMEOUT_SECONDS", default=10.0)
# When the Messaging Service's Advanced Opt-Out answers STOP/HELP itself, we
# record the keyword but must not send a second reply.
TWILIO_ADVANCED_OPT_OUT = env.bool("TWILIO_ADVANCED_OPT_OUT", default=False)
PUBLIC_BASE_URL = env.str("PUBLIC_BASE_URL", default="http://127.0.0.1:8000").rstrip("/")
# Where Twilio posts delivery receipts (empty: PUBLIC_BASE_URL). A host of their own, served by its own
# web processes, keeps a flood of receipts during a campaign from queueing in front of opt-outs.
STATUS_CALLBACK_BASE_URL = env.str("STATUS_CALLBACK_BASE_URL", default="").rstrip("/")

# --- Consent and privacy rules (compliance.md) --------------------------------
SUPPRESSION_HMAC_KEY = env.str("SUPPRESSION_HMAC_KEY", default="")
# Phone numbers are few enough to try them all: the key is what keeps the list's fingerprints from
# being reversed, so production needs a long random one.
SUPPRESSION_HMAC_KEY_MIN_LENGTH = 32
if not SUPPRESSION_HMAC_KEY:
    if not DEBUG:
        from django.core.exceptions import ImproperlyConfigured

        raise ImproperlyConfigured("SUPPRESSION_HMAC_KEY must be set when DEBUG=0.")
elif not DEBUG and len(SUPPRESSION_HMAC_KEY) < SUPPRESSION_HMAC_KEY_MIN_LENGTH:
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured(
        f"SUPPRESSION_HMAC_KEY must be at least {SUPPRESSION_HMAC_KEY_MIN_LENGTH} characters when DEBUG=0 "
        f"(it has {len(SUPPRESSION_HMAC_KEY)}); a short key lets anyone who sees the suppression list recover "
        "the numbers. Generate one with: python -c \"import secrets; print(secrets.token_urlsafe(48))\""
    )
    # Derived, so a DEBUG process keeps stable digests across restarts when SECRET_KEY is set.
    import hashlib

    SUPPRESSION_HMAC_KEY = hashlib.sha256(("suppression:" + SECRET_KEY).encode()).hexdigest()
# "all": an opt-out that names no program revokes every program (FCC revoke-all).
# "program": it revokes only the program the person was last texted about.
CONSENT_OPT_OUT_SCOPE = env.str("CONSENT_OPT_OUT_SCOPE", default="all")
CONSENT_EVIDENCE_RETENTION_DAYS = env.int("CONSENT_EVIDENCE_RETENTION_DAYS", default=5 * 365)
CONSENT_PENDING_EXPIRY_HOURS = env.int("CONSENT_PENDING_EXPIRY_HOURS", default=48)
CONSENT_MINIMUM_AGE_DEFAULT = env.int("CONSENT_MINIMUM_AGE_DEFAULT", default=21)
OPT_OUT_CONFIRMATION_WINDOW_SECONDS = env.int("OPT_OUT_CONFIRMATION_WINDOW_SECONDS", default=300)
# Beat seals new consent events into the ledger's hash chain this often (see contacts/ledger.py);
# verify_ledger fails when an event has waited longer than the second setting.
LEDGER_SEAL_SECONDS = env.float("LEDGER_SEAL_SECONDS", default=2.0)
LEDGER_SEAL_OVERDUE_SECONDS = env.int("LEDGER_SEAL_OVERDUE_SECONDS", default=300)
# The chain is an HMAC keyed with this, never stored in the database: whoever can write the database but
# lacks the key can't rewrite an event and recompute the hashes after it. Required when DEBUG=0.
LEDGER_HMAC_KEY = env.str("LEDGER_HMAC_KEY", default="")
LEDGER_HMAC_KEY_MIN_LENGTH = 32
if not LEDGER_HMAC_KEY:
    if not DEBUG:
        from django.core.exceptions import ImproperlyConfigured

        raise ImproperlyConfigured("LEDGER_HMAC_KEY must be set when DEBUG=0.")
    import hashlib

    # From the SECRET_KEY the environment gives, not the random per-process one: the process that seals
    # and the one that verifies must use the same key.
    LEDGER_HMAC_KEY = hashlib.sha256(("ledger:" + env.str("SECRET_KEY", default="")).encode()).hexdigest()
if len(LEDGER_HMAC_KEY) < LEDGER_HMAC_KEY_MIN_LENGTH:
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured(f"LEDGER_HMAC_KEY must be at least {LEDGER_HMAC_KEY_MIN_LENGTH} characters long.")
# Each seal appends the chain's head (position, hash, time) outside the database: to an append-only file,
# or to the sink a dotted path names (see contacts/anchors.py). verify_ledger compares the chain with it.
LEDGER_ANCHOR_SINK = env.str("LEDGER_ANCHOR_SINK", default="contacts.anchors.FileAnchorSink")
# A relative path is under the project folder (an absolute one stays as it is).
LEDGER_ANCHOR_FILE = str(BASE_DIR / env.str("LEDGER_ANCHOR_FILE", default="var/ledger-anchors.jsonl"))
# The Celery queue the seal goes to (empty: the default queue). With the file sink on several machines,
# name a queue only the machine that keeps the file consumes, so every anchor lands in that one file.
LEDGER_SEAL_QUEUE = env.str("LEDGER_SEAL_QUEUE", default="")
# Imports write this many rows per transaction, so an opt-out never waits long behind an import's locks.
IMPORT_BATCH_ROWS = env.int("IMPORT_BATCH_ROWS", default=100)
# One "reply YES" request a day per sign-up is normal; more is someone filling forms with another's number.
DOUBLE_OPT_IN_REQUESTS_PER_DAY = env.int("DOUBLE_OPT_IN_REQUESTS_PER_DAY", default=3)
CELERY_BEAT_SCHEDULE["consent-ledger-seal"] = {
    "task": "contacts.tasks.ledger_seal_task",
    "schedule": LEDGER_SEAL_SECONDS,
    "options": {"expires": LEDGER_SEAL_SECONDS * 5},  # a backlog of them would only repeat one another
}
if LEDGER_SEAL_QUEUE:
    CELERY_BEAT_SCHEDULE["consent-ledger-seal"]["options"]["queue"] = LEDGER_SEAL_QUEUE

# --- Public forms ---------------------------------------------------------------
SIGNUP_RATE_LIMIT_PER_IP = env.str("SIGNUP_RATE_LIMIT_PER_IP", default="10/h")
SIGNUP_RATE_LIMIT_PER_PHONE = env.str("SIGNUP_RATE_LIMIT_PER_PHONE", default="3/h")
# The public opt-out page (/optout/): per address, and per number for the confirmation text it sends.
OPTOUT_RATE_LIMIT_PER_IP = env.str("OPTOUT_RATE_LIMIT_PER_IP", default="20/h")
OPTOUT_RATE_LIMIT_PER_PHONE = env.str("OPTOUT_RATE_LIMIT_PER_PHONE", default="3/h")

# --- Campaign sending ---------------------------------------------------------------
SMS_PRICE_PER_SEGMENT = env.float("SMS_PRICE_PER_SEGMENT", default=0.0083)
SMS_PRICE_CURRENCY = env.str("SMS_PRICE_CURRENCY", default="USD")
CAMPAIGN_BRAND_PREFIX = env.bool("CAMPAIGN_BRAND_PREFIX", default=True)
CAMPAIGN_OPT_OUT_FOOTER = env.str("CAMPAIGN_OPT_OUT_FOOTER", default="Reply STOP to opt out")
# The longest text one campaign message may be, brand and footer included (Twilio refuses bodies over 1,600).
CAMPAIGN_MESSAGE_MAX_CHARACTERS = env.int("CAMPAIGN_MESSAGE_MAX_CHARACTERS", default=1600)
SEND_RATE_PER_SECOND = env.float("SEND_RATE_PER_SECOND", default=1.0)  # per sender; 0 = unlimited
# How far ahead of its steady pace a sender may be granted texts (a small group at once for fast senders);
# any second holds at most rate × (1 + this) + 1 texts. Carriers filter bursts: keep it small.
SEND_RATE_BURST_SECONDS = env.float("SEND_RATE_BURST_SECONDS", default=0.05)
SEND_BATCH_SIZE = env.int("SEND_BATCH_SIZE", default=200)
AUDIENCE_BATCH_SIZE = env.int("AUDIENCE_BATCH_SIZE", default=50_000)
QUIET_HOURS_ENABLED = env.bool("QUIET_HOURS_ENABLED", default=True)
# Federal window; state windows are editable data in the database.
QUIET_HOURS_DEFAULT_START = env.str("QUIET_HOURS_DEFAULT_START", default="08:00")
QUIET_HOURS_DEFAULT_END = env.str("QUIET_HOURS_DEFAULT_END", default="21:00")
FREQUENCY_CAP_COUNT = env.int("FREQUENCY_CAP_COUNT", default=0)  # 0 = no global cap
FREQUENCY_CAP_WINDOW_HOURS = env.int("FREQUENCY_CAP_WINDOW_HOURS", default=24)
FREQUENCY_CAP_ACTION = env.str("FREQUENCY_CAP_ACTION", default="defer")  # or "skip"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
}
# runserver's line per request ("GET /admin/ 200"); `make run` keeps only warnings and errors (4xx, 5xx),
# so the development phone's polling doesn't bury the texts.
LOGGING.setdefault("loggers", {})["django.server"] = {
    "handlers": ["console"], "level": env.str("LOG_LEVEL_REQUESTS", default="INFO"), "propagate": False,
}  # fmt: skip

# --- Two-way SMS: provider errors, retries, replies (messaging) ----------------------
# Twilio error codes by what they mean for us (compliance.md §5); anything else is permanent.
TWILIO_OPT_OUT_ERROR_CODES = env.list("TWILIO_OPT_OUT_ERROR_CODES", cast=int, default=[21610])
TWILIO_UNDELIVERABLE_ERROR_CODES = env.list(
    "TWILIO_UNDELIVERABLE_ERROR_CODES", cast=int, default=[21211, 21614, 21635, 30006]
)
TWILIO_TRANSIENT_ERROR_CODES = env.list("TWILIO_TRANSIENT_ERROR_CODES", cast=int, default=[20429, 30003, 30008])
TWILIO_HTTP_POOL_SIZE = env.int("TWILIO_HTTP_POOL_SIZE", default=32)
# Transient send errors: attempts in all, and the backoff between them (doubling, capped).
SMS_SEND_MAX_ATTEMPTS = env.int("SMS_SEND_MAX_ATTEMPTS", default=5)
SMS_RETRY_BASE_SECONDS = env.float("SMS_RETRY_BASE_SECONDS", default=5.0)
SMS_RETRY_MAX_SECONDS = env.float("SMS_RETRY_MAX_SECONDS", default=300.0)
# Replies to texts from numbers with no program: who we are and where to get help.
SMS_DEFAULT_BRAND = env.str("SMS_DEFAULT_BRAND", default="")
SMS_DEFAULT_HELP_CONTACT = env.str("SMS_DEFAULT_HELP_CONTACT", default="")
SMS_KEYWORD_CACHE_SECONDS = env.int("SMS_KEYWORD_CACHE_SECONDS", default=60)
# An unknown number that texts START is told how to join at most once per this many hours.
SMS_JOIN_REPLY_INTERVAL_HOURS = env.int("SMS_JOIN_REPLY_INTERVAL_HOURS", default=24)
# With TWILIO_ADVANCED_OPT_OUT on, Twilio itself answers a message that is exactly one of these.
TWILIO_ADVANCED_OPT_OUT_KEYWORDS = env.list(
    "TWILIO_ADVANCED_OPT_OUT_KEYWORDS",
    default=["STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT",
             "START", "YES", "UNSTOP", "HELP", "INFO"],
)  # fmt: skip

# --- Campaign sending engine (campaigns app) ---------------------------------------
# When a number's time zones are unknown, quiet hours must hold in all of these.
QUIET_HOURS_FALLBACK_TIME_ZONES = env.list(
    "QUIET_HOURS_FALLBACK_TIME_ZONES",
    default=["America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles"],
)
# Parallel send chains per campaign (each a Celery task re-enqueuing itself); more workers share them.
CAMPAIGN_SEND_CHAINS = env.int("CAMPAIGN_SEND_CHAINS", default=4)
# A chain or build whose worker died is restarted by the tick once its lease expires.
CAMPAIGN_CHAIN_LEASE_SECONDS = env.int("CAMPAIGN_CHAIN_LEASE_SECONDS", default=60)
CAMPAIGN_BUILD_LEASE_SECONDS = env.int("CAMPAIGN_BUILD_LEASE_SECONDS", default=300)
# A message CLAIMED this long without a SID is settled by asking the provider what it sent.
SEND_CLAIM_TIMEOUT_SECONDS = env.int("SEND_CLAIM_TIMEOUT_SECONDS", default=120)
# After a transient provider error (429, 5xx), every worker holds off this sender for this long.
SEND_THROTTLE_PAUSE_SECONDS = env.float("SEND_THROTTLE_PAUSE_SECONDS", default=2.0)
# Shifts the clock that quiet hours, caps and due times use; for drills and tests only, 0 in production.
SENDING_CLOCK_OFFSET_SECONDS = env.float("SENDING_CLOCK_OFFSET_SECONDS", default=0.0)
CAMPAIGNS_TICK_SECONDS = env.float("CAMPAIGNS_TICK_SECONDS", default=5.0)
CELERY_BEAT_SCHEDULE["campaigns-tick"] = {"task": "campaigns.tasks.campaigns_tick", "schedule": CAMPAIGNS_TICK_SECONDS}
# Provider calls one send worker process makes at once (threads; the HTTP pool should be as large).
SMS_SEND_CONCURRENCY = env.int("SMS_SEND_CONCURRENCY", default=32)

# --- The gate every text passes (messaging.outbox) --------------------------------------
# A HELP reply answers a text received this recently; a staff reply, one received within these hours.
SMS_REPLY_WINDOW_SECONDS = env.int("SMS_REPLY_WINDOW_SECONDS", default=300)
AGENT_REPLY_WINDOW_HOURS = env.int("AGENT_REPLY_WINDOW_HOURS", default=24)
# Test sends: per staff user, and dropped if they could not go out this soon after staff asked.
TEST_SEND_RATE_LIMIT = env.str("TEST_SEND_RATE_LIMIT", default="10/h")
TEST_SEND_MAX_DELAY_SECONDS = env.int("TEST_SEND_MAX_DELAY_SECONDS", default=300)
# A single text still waiting this long after it was queued lost its task: recovery enqueues another.
SEND_TASK_LOST_SECONDS = env.int("SEND_TASK_LOST_SECONDS", default=60)
OUTBOX_RECOVER_SECONDS = env.float("OUTBOX_RECOVER_SECONDS", default=10.0)
CELERY_BEAT_SCHEDULE["messaging-outbox-recover"] = {
    "task": "messaging.tasks.outbox_recover_task",
    "schedule": OUTBOX_RECOVER_SECONDS,
    "options": {"expires": OUTBOX_RECOVER_SECONDS * 3},
}

# --- Inbound texts that must not be lost (messaging.spool, messaging.backstop) ---------------
# The numbers people text us at, besides TWILIO_FROM_NUMBER (a messaging service's pool); an inbound
# webhook addressed to another number is refused. Empty (and no TWILIO_FROM_NUMBER): not checked.
TWILIO_INBOUND_NUMBERS = env.list("TWILIO_INBOUND_NUMBERS", default=[])
# An inbound text waits at most this long for a lock before the webhook keeps it in the spool.
INBOUND_LOCK_TIMEOUT_MS = env.int("INBOUND_LOCK_TIMEOUT_MS", default=2000)
# Where the web host keeps inbound texts when both PostgreSQL and Redis are away.
INBOUND_SPOOL_DIR = env.str("INBOUND_SPOOL_DIR", default=str(BASE_DIR / "var" / "inbound-spool"))
INBOUND_SPOOL_SECONDS = env.float("INBOUND_SPOOL_SECONDS", default=5.0)
CELERY_BEAT_SCHEDULE["messaging-inbound-spool"] = {
    "task": "messaging.tasks.inbound_spool_apply_task",
    "schedule": INBOUND_SPOOL_SECONDS,
    "options": {"expires": INBOUND_SPOOL_SECONDS * 3},
}
# Every so often, ask Twilio what it received and apply texts whose webhook never reached us.
INBOUND_BACKSTOP_SECONDS = env.float("INBOUND_BACKSTOP_SECONDS", default=60.0)
INBOUND_BACKSTOP_LOOKBACK_MINUTES = env.int("INBOUND_BACKSTOP_LOOKBACK_MINUTES", default=30)
INBOUND_BACKSTOP_MAX_MESSAGES = env.int("INBOUND_BACKSTOP_MAX_MESSAGES", default=5000)
CELERY_BEAT_SCHEDULE["messaging-inbound-backstop"] = {
    "task": "messaging.tasks.inbound_backstop_task",
    "schedule": INBOUND_BACKSTOP_SECONDS,
    "options": {"expires": INBOUND_BACKSTOP_SECONDS},
}

# --- Development phone (devphone) ------------------------------------------------------
# A page under the admin that plays a person's phone: it shows the texts sent to a number and posts
# replies to /sms/inbound/, signed like Twilio. It forges consent, so it is never on in production.
# Empty (as in .env.example) means "as DEBUG".
DEV_PHONE_ENABLED = env.bool("DEV_PHONE_ENABLED") if env.str("DEV_PHONE_ENABLED", default="") else DEBUG
