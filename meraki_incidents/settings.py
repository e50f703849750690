"""Settings for meraki-incidents.

Every setting read from the environment is declared once, with its type and default, in ``env`` below and
documented in ``.env.example``. The defaults serve a laptop (SQLite, a filesystem Celery broker under ``var/``);
``DATABASE_URL`` and ``REDIS_URL`` switch to PostgreSQL and Redis.
"""

import base64
import hashlib
import warnings
from pathlib import Path

import environ
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

from sync.crypto import fernet_keys
from sync.durations import parse_duration

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env(
    DEBUG=(bool, True),
    SECRET_KEY=(str, ""),
    ALLOWED_HOSTS=(list, ["localhost", "127.0.0.1", "[::1]"]),
    CSRF_TRUSTED_ORIGINS=(list, []),
    # HTTPS hardening; empty (None) follows DEBUG: on in production, off in development.
    SECURE_HSTS_SECONDS=(int, None),
    SECURE_HSTS_INCLUDE_SUBDOMAINS=(bool, None),
    SECURE_HSTS_PRELOAD=(bool, None),
    SECURE_SSL_REDIRECT=(bool, None),
    TRUST_X_FORWARDED_PROTO=(bool, False),
    VAR_DIR=(str, str(BASE_DIR / "var")),
    DATABASE_URL=(str, ""),
    CONN_MAX_AGE=(int, 0),
    REDIS_URL=(str, ""),
    FIELD_ENCRYPTION_KEY=(list, []),
    LOG_LEVEL=(str, "INFO"),
    LOG_FORMAT=(str, ""),
    TIME_ZONE=(str, "UTC"),
    SYNC_INTERVAL=(str, "1h"),
    SYNC_LEASE_TIMEOUT=(str, "10m"),
    EVENT_RETENTION=(str, "180d"),
    METRICS_ENABLED=(bool, False),
    LOGIN_FAILURE_LIMIT=(int, 5),
    LOGIN_COOLOFF=(str, "15m"),
    PROMETHEUS_MULTIPROC_DIR=(str, ""),
    EXTRA_ALLOWED_API_HOSTS=(list, []),
    MERAKI_RATE_LIMIT_PER_SECOND=(float, 5.0),
    MERAKI_RATE_LIMIT_BURST=(int, 1),
    MERAKI_TIMEOUT=(float, 30.0),
    MERAKI_MAX_ATTEMPTS=(int, 5),
    MERAKI_MAX_RATE_LIMIT_RETRIES=(int, 10),
    MERAKI_MAX_RETRY_AFTER=(float, 60.0),
    MERAKI_MAX_PAGES=(int, 1000),
    SITE_URL=(str, "http://127.0.0.1:8000"),
    XDR_INCIDENT_URL_TEMPLATE=(str, "https://xdr.{region}.security.cisco.com/incidents/{incident_id}"),
    XDR_INVESTIGATE_URL_TEMPLATE=(str, "https://xdr.{region}.security.cisco.com/investigate"),
    SIMULATOR_ENABLED=(bool, False),
    SIMULATOR_MERAKI_ERROR_RATE=(float, 0.0),
    SIMULATOR_LATENCY=(float, 0.0),
)
if (BASE_DIR / ".env").is_file():
    environ.Env.read_env(BASE_DIR / ".env")

DEBUG = env("DEBUG")
VAR_DIR = Path(env("VAR_DIR"))

# --- secrets -------------------------------------------------------------------------------------------------
_DEVELOPMENT_SECRET_KEY = "django-insecure-development-only-meraki-incidents"  # noqa: S105 (dev default)
SECRET_KEY = env("SECRET_KEY") or (_DEVELOPMENT_SECRET_KEY if DEBUG else "")


def _development_field_key(secret_key: str) -> str:
    digest = hashlib.sha256(f"meraki-incidents field encryption:{secret_key}".encode()).digest()
    return base64.urlsafe_b64encode(digest).decode()


# Newest key first: it encrypts; every listed key decrypts (MultiFernet), which is how keys are rotated.
FIELD_ENCRYPTION_KEYS = [key.strip() for key in env("FIELD_ENCRYPTION_KEY") if key.strip()]
if not FIELD_ENCRYPTION_KEYS and DEBUG:
    warnings.warn(
        "FIELD_ENCRYPTION_KEY is not set: secrets are encrypted with a key derived from SECRET_KEY "
        "(development mode only; production refuses to start without FIELD_ENCRYPTION_KEY).",
        RuntimeWarning,
        stacklevel=1,
    )
    FIELD_ENCRYPTION_KEYS = [_development_field_key(SECRET_KEY)]

fernet_keys(tuple(FIELD_ENCRYPTION_KEYS))  # refuse to start with a malformed key

ALLOWED_HOSTS = env("ALLOWED_HOSTS")
CSRF_TRUSTED_ORIGINS = env("CSRF_TRUSTED_ORIGINS")

if not DEBUG:
    _missing = [
        name
        for name, value in (
            ("SECRET_KEY", SECRET_KEY),
            ("FIELD_ENCRYPTION_KEY", FIELD_ENCRYPTION_KEYS),
            ("ALLOWED_HOSTS", env.str("ALLOWED_HOSTS", default="")),
        )
        if not value
    ]
    if _missing:
        raise ImproperlyConfigured(
            f"Production settings (DEBUG=false) need these environment variables: {', '.join(_missing)}"
        )


def _production_default(value, production, development):
    """An HTTPS setting left empty follows DEBUG: secure in production, off on a laptop served over HTTP."""
    if value is not None:
        return value
    return development if DEBUG else production


# --- HTTPS (`manage.py check --deploy` passes with the defaults when DEBUG=false) ----------------------------
SECURE_HSTS_SECONDS = _production_default(env("SECURE_HSTS_SECONDS"), 31_536_000, 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = _production_default(env("SECURE_HSTS_INCLUDE_SUBDOMAINS"), True, False)
# Only takes effect once the registrable domain is submitted to hstspreload.org; set false to leave it out.
SECURE_HSTS_PRELOAD = _production_default(env("SECURE_HSTS_PRELOAD"), True, False)
SECURE_SSL_REDIRECT = _production_default(env("SECURE_SSL_REDIRECT"), True, False)
# Load balancers and health probes call these over plain HTTP; a redirect to HTTPS would fail them.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
# Behind a TLS-terminating proxy Django sees HTTP; trust the proxy's X-Forwarded-Proto only when told to, since
# a client reaching the app directly could otherwise claim HTTPS.
if env("TRUST_X_FORWARDED_PROTO"):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

# --- Django --------------------------------------------------------------------------------------------------
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "axes",
    "sync",
    "sync.simulator",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",  # static files from the app itself: no CDN, no extra server
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",  # last: it answers locked-out logins
]

# Login attempts are throttled per user name and address (django-axes); the admin and the site share it.
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
AXES_FAILURE_LIMIT = env("LOGIN_FAILURE_LIMIT")
AXES_COOLOFF_TIME = parse_duration(env("LOGIN_COOLOFF"))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/accounts/login/"

REST_FRAMEWORK = {
    # Token first: an anonymous request gets 401 with WWW-Authenticate, not a bare 403.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "meraki-incidents API",
    "DESCRIPTION": "Meraki MX security events, their promotion to Threat Response and Webex, and sync runs.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
}

ROOT_URLCONF = "meraki_incidents.urls"
WSGI_APPLICATION = "meraki_incidents.wsgi.application"

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

# --- database ------------------------------------------------------------------------------------------------
if env("DATABASE_URL"):
    DATABASES = {"default": env.db_url("DATABASE_URL")}
else:
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": VAR_DIR / "db.sqlite3"}}
DATABASES["default"]["CONN_MAX_AGE"] = env("CONN_MAX_AGE")
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The web server and the worker write at once: WAL lets readers run beside a writer, IMMEDIATE takes the
    # write lock up front and the busy timeout waits for it instead of failing with "database is locked".
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env("REDIS_URL")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2},  # /readyz fails fast, not after minutes
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = env("TIME_ZONE")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # Hashed names need `collectstatic` first, which production images run at build; development does not.
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

# JSON lines in production (one object per line, with org/run/task ids as fields), readable text on a laptop;
# either way the handler masks secrets that reach a log line by accident.
LOG_FORMAT = (env("LOG_FORMAT") or ("text" if DEBUG else "json")).strip().lower()
if LOG_FORMAT not in ("json", "text"):
    raise ImproperlyConfigured(f"LOG_FORMAT must be json or text, not {LOG_FORMAT!r}")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact_secrets": {"()": "sync.logging.RedactSecretsFilter"}},
    "formatters": {
        "text": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {"()": "sync.logging.JsonFormatter"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT, "filters": ["redact_secrets"]},
    },
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL")},
}

# --- sync engine ---------------------------------------------------------------------------------------------
SYNC_INTERVAL = parse_duration(env("SYNC_INTERVAL"))
# A worker killed mid-run blocks its organization for at most this long; a live run renews it every page.
SYNC_LEASE_TIMEOUT = parse_duration(env("SYNC_LEASE_TIMEOUT"))
EXTRA_ALLOWED_API_HOSTS = [host.strip().lower() for host in env("EXTRA_ALLOWED_API_HOSTS") if host.strip()]
MERAKI_RATE_LIMIT_PER_SECOND = env("MERAKI_RATE_LIMIT_PER_SECOND")
MERAKI_RATE_LIMIT_BURST = env("MERAKI_RATE_LIMIT_BURST")
MERAKI_TIMEOUT = env("MERAKI_TIMEOUT")
MERAKI_MAX_ATTEMPTS = env("MERAKI_MAX_ATTEMPTS")
MERAKI_MAX_RATE_LIMIT_RETRIES = env("MERAKI_MAX_RATE_LIMIT_RETRIES")
MERAKI_MAX_RETRY_AFTER = env("MERAKI_MAX_RETRY_AFTER")
MERAKI_MAX_PAGES = env("MERAKI_MAX_PAGES")
# Events older than this that were never eligible for promotion are deleted daily; None (EVENT_RETENTION empty or
# 0) keeps everything. Promoted, pending and failed events and incidents are always kept.
EVENT_RETENTION = parse_duration(env("EVENT_RETENTION").strip() or "0") or None

# --- Celery (read by meraki_incidents/celery.py with the CELERY_ namespace; tests assert they apply) -----------
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    # Redis re-delivers an unacknowledged (acks_late) task after this; it must exceed the task time limit.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 2 * 3600}
else:
    _broker_dir = VAR_DIR / "broker"
    for _folder in ("queue", "processed", "control"):
        (_broker_dir / _folder).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),  # broadcast exchanges; kombu's default is ./control
        "store_processed": False,
    }
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_IGNORE_RESULT = True  # results live in SyncRun rows, not in a result backend
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_TIME_LIMIT = 3600
CELERY_TASK_SOFT_TIME_LIMIT = 3300
CELERY_TIMEZONE = "UTC"
# Leave the root logger to LOGGING above, so workers log JSON (and redact secrets) like the web server.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_BEAT_SCHEDULE = {
    "dispatch-syncs": {"task": "sync.tasks.dispatch_syncs", "schedule": SYNC_INTERVAL.total_seconds()},
    "delete-expired-events": {"task": "sync.tasks.delete_expired_events", "schedule": crontab(hour=3, minute=0)},
}

# --- metrics ------------------------------------------------------------------------------------------------------
# /metrics (Prometheus) answers 404 unless enabled; it has no login (scrapers), so expose it only to the scraper.
METRICS_ENABLED = env("METRICS_ENABLED")
# A folder shared by every process (gunicorn and Celery workers), each writing its own counts there; /metrics adds
# them up. prometheus_client reads the environment variable itself at import: set it in the environment before
# gunicorn and celery start, and empty the folder at each deployment.
PROMETHEUS_MULTIPROC_DIR = env("PROMETHEUS_MULTIPROC_DIR")

# --- promotion --------------------------------------------------------------------------------------------------
# This product's own address: links in Threat Response (source_uri) and Webex messages point at its event pages.
SITE_URL = env("SITE_URL").rstrip("/")
# Console links; {region} is us, eu or apjc, {incident_id} the short id, {ctia_id} the full CTIA id. The
# investigate link gets ?q=<the event's observables> appended.
XDR_INCIDENT_URL_TEMPLATE = env("XDR_INCIDENT_URL_TEMPLATE")
XDR_INVESTIGATE_URL_TEMPLATE = env("XDR_INVESTIGATE_URL_TEMPLATE")

# --- built-in simulator of the cloud APIs (demo and end-to-end tests; never mounted when disabled) ------------
SIMULATOR_ENABLED = env("SIMULATOR_ENABLED")
# Share of Meraki requests answered with HTTP 500, and seconds added to every simulated answer (demo realism).
SIMULATOR_MERAKI_ERROR_RATE = env("SIMULATOR_MERAKI_ERROR_RATE")
SIMULATOR_LATENCY = env("SIMULATOR_LATENCY")
