"""Settings for smsconsent, read from the environment (see `.env.example`).

Every compliance rule is a setting here with the default from the rules we
encode, never a constant buried in the code that applies it.
"""

import secrets
from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
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
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "phonenumber_field",
    "contacts",
    "messaging",
    "campaigns",
    "signup",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "campaigns.staff_time.StaffTimeZoneMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
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
STATIC_ROOT = BASE_DIR / "var" / "static"
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
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_CONTENT_TYPE_NOSNIFF = True

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
if not SUPPRESSION_HMAC_KEY:
    if not DEBUG:
        from django.core.exceptions import ImproperlyConfigured

        raise ImproperlyConfigured("SUPPRESSION_HMAC_KEY must be set when DEBUG=0.")
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
CELERY_BEAT_SCHEDULE["consent-ledger-seal"] = {
    "task": "contacts.tasks.ledger_seal_task",
    "schedule": LEDGER_SEAL_SECONDS,
    "options": {"expires": LEDGER_SEAL_SECONDS * 5},  # a backlog of them would only repeat one another
}

# --- Public forms ---------------------------------------------------------------
# Header holding the client IP when behind a trusted proxy, e.g. "HTTP_X_FORWARDED_FOR".
TRUSTED_PROXY_IP_HEADER = env.str("TRUSTED_PROXY_IP_HEADER", default="")
SIGNUP_RATE_LIMIT_PER_IP = env.str("SIGNUP_RATE_LIMIT_PER_IP", default="10/h")
SIGNUP_RATE_LIMIT_PER_PHONE = env.str("SIGNUP_RATE_LIMIT_PER_PHONE", default="3/h")

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
