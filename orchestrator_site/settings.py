"""Settings. Every deployment difference is an environment variable with an
embedded default; the README lists them all."""
from __future__ import annotations

import os
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("ORCHESTRATOR_VAR_DIR", BASE_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DEBUG", False)
# The embedded default is for a developer's machine only; production sets SECRET_KEY.
SECRET_KEY = os.environ.get("SECRET_KEY", "dev-insecure-orchestrator-key-change-me")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,[::1],testserver")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "http://127.0.0.1:8000,http://localhost:8000")
# Cookies only over https: on by default when the site's trusted origins are https (SECURE_COOKIES overrides).
SECURE_COOKIES = env_bool("SECURE_COOKIES", bool(CSRF_TRUSTED_ORIGINS) and all(o.startswith("https://") for o in CSRF_TRUSTED_ORIGINS))
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = SECURE_COOKIES
SESSION_COOKIE_HTTPONLY = True
# The largest request body read into memory (a 413-like 400 past it; webhooks have their own WEBHOOK_MAX_BODY_BYTES).
DATA_UPLOAD_MAX_MEMORY_SIZE = int(os.environ.get("REQUEST_MAX_BYTES", str(5 * 1024 * 1024)))
SESSION_COOKIE_SAMESITE = CSRF_COOKIE_SAMESITE = "Lax"

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Redoc served from this site, not a CDN
    "channels",
    "django_celery_beat",
    "axes",  # brute-force protection of every login (README "Security settings")
    "editor",
    "engine",
    "evaluation",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",  # last: answers a locked-out login with 429
]
MIDDLEWARE.insert(1, "orchestrator_site.security.ContentSecurityPolicyMiddleware")

# Brute-force protection (django-axes): after LOGIN_FAILURE_LIMIT wrong
# passwords for one account, or from one client address, logins from there
# (/login/, /admin/login/, /api/auth/token/) are refused for
# LOGIN_COOLOFF_MINUTES (`manage.py axes_reset` unlocks at once).
AUTHENTICATION_BACKENDS = ["editor.lockout.LockoutBackend", "django.contrib.auth.backends.ModelBackend"]
AXES_ENABLED = env_bool("LOGIN_LOCKOUT", True)
AXES_FAILURE_LIMIT = int(os.environ.get("LOGIN_FAILURE_LIMIT", "10"))
AXES_COOLOFF_TIME = float(os.environ.get("LOGIN_COOLOFF_MINUTES", "15")) / 60  # hours
AXES_LOCKOUT_PARAMETERS = ["ip_address", "username"]
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False
AXES_LOCKOUT_CALLABLE = "editor.lockout.lockout_response"

ROOT_URLCONF = "orchestrator_site.urls"
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
                "editor.context.build_version",
            ],
        },
    },
]
WSGI_APPLICATION = "orchestrator_site.wsgi.application"
ASGI_APPLICATION = "orchestrator_site.asgi.application"

DATABASES = {
    "default": dj_database_url.parse(os.environ.get("DATABASE_URL", f"sqlite:///{VAR_DIR / 'orchestrator.sqlite3'}"))
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # A connection pool per process instead of persistent connections: under
    # ASGI every request runs in a thread of its own, so a persistent
    # connection per thread leaks one connection per request until PostgreSQL
    # refuses clients (Django's advice for ASGI). Size it for the busiest
    # process: a worker's Celery threads plus its I/O threads.
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": 1,
        # A worker's Celery threads, plus the I/O loop's database threads
        # (each gives its connection back after every call: engine/db.py).
        "max_size": int(os.environ.get("DATABASE_POOL_SIZE") or int(os.environ.get("CELERY_CONCURRENCY", "16")) + 8),
        "timeout": 30,
    }
elif DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The same backend, keeping closed connections for reuse (see its docstring).
    DATABASES["default"]["ENGINE"] = "orchestrator_site.sqlite_pool"
    # WAL lets the web process read while a worker writes; a generous timeout
    # rides out the short write locks instead of failing with "database is locked".
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 30,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
    }
    # A file, not memory, so the test worker threads and the test daphne share
    # it; one per test process, so concurrent test sessions do not collide.
    DATABASES["default"].setdefault("TEST", {})["NAME"] = str(VAR_DIR / f"test-orchestrator-{os.getpid()}.sqlite3")

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "staticfiles"
STATIC_ROOT.mkdir(exist_ok=True)
# daphne serves static files through WhiteNoise straight from static/ (the
# built front end included), so no collectstatic step is needed to run.
WHITENOISE_USE_FINDERS = True
# Re-read static files on each request (a rebuilt front end is served at once): development only.
WHITENOISE_AUTOREFRESH = env_bool("WHITENOISE_AUTOREFRESH", DEBUG)
LOGIN_URL = "/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/login/"

# Redis: the broker, the Channels layer and the run event logs. `make run`
# starts an embedded Redis and sets REDIS_URL when it is unset.
def _running_services() -> dict:
    """Where a running `make run` / `manage.py serve` started its embedded
    services (it writes var/services.json and removes it on exit): any other
    `manage.py` command beside it (runworkflow …) talks to the same Redis."""
    import json

    try:
        services = json.loads((BASE_DIR / "var" / "services.json").read_text())
        os.kill(int(services["pid"]), 0)  # the file of a serve that died is ignored
        return services
    except (OSError, ValueError, KeyError, TypeError):
        return {}


REDIS_URL = os.environ.get("REDIS_URL") or _running_services().get("redis_url") or "redis://127.0.0.1:6379/0"
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", REDIS_URL)
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
# A run's advancing task may be delivered twice; the engine's lease and the
# recorded steps make that safe.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# No ack emulation: kombu's Redis transport otherwise writes every delivered
# message to an "unacked" set and removes it at the ack (two MULTI/EXEC round
# trips on the consumer's loop per task, ~0.6 ms of worker CPU per short run),
# only to hand a hard-killed worker's messages back after visibility_timeout
# (an hour). The database is what recovers a run: the sweeper re-sends a run
# whose owner's lease lapsed and a queued run whose message is older than
# ENGINE_QUEUED_GRACE_S. A worker that shuts down cleanly still puts back the
# messages it had reserved (kombu keeps them in memory until they are acked).
CELERY_BROKER_TRANSPORT_OPTIONS = {"ack_emulation": False, "socket_keepalive": True, "retry_on_timeout": True,
                                   "health_check_interval": 10}
# Redis away is an outage, not an end: a worker keeps trying to reconnect (at
# start and after a loss) instead of exiting. A task in progress goes on (the
# database is the truth; the run's lease is there), so none is cancelled.
CELERY_BROKER_CONNECTION_RETRY = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = False
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
# Celery beat reads its schedule from the database (django-celery-beat); the
# one entry that matters is the schedule sweep, see editor/triggers.py.
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
# Triggers (README "Calling workflows from outside").
WEBHOOK_MAX_BODY_BYTES = int(os.environ.get("WEBHOOK_MAX_BODY_BYTES", str(1024 * 1024)))
WEBHOOK_RATE_LIMIT_PER_MIN = int(os.environ.get("WEBHOOK_RATE_LIMIT_PER_MIN", "30000"))
SCHEDULE_SWEEP_S = float(os.environ.get("SCHEDULE_SWEEP_S", "1"))
SCHEDULE_GRACE_S = float(os.environ.get("SCHEDULE_GRACE_S", "60"))
MCP_TOOLS_CACHE_S = float(os.environ.get("MCP_TOOLS_CACHE_S", "30"))

CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {
            # redis-py 8 reads with a 5 s socket timeout by default, exactly the
            # channel layer's blocking BZPOPMIN wait: a WebSocket that saw no event
            # for 5 s was torn down with "Timeout reading from …" (1011). A longer
            # timeout keeps the wait whole and still notices a dead connection.
            "hosts": [{"address": os.environ.get("CHANNEL_REDIS_URL", REDIS_URL), "socket_timeout": 30}],
            "capacity": 5000,
            "expiry": 60,
        },
    }
}

# How long a process remembers a valid API token (editor/tokens.py); 0 looks it up on every request.
TOKEN_CACHE_S = float(os.environ.get("TOKEN_CACHE_S", "10"))
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "editor.tokens.CachedTokenAuthentication",  # DRF's token auth, remembered for TOKEN_CACHE_S
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "editor.api.errors.exception_handler",
    "DEFAULT_PAGINATION_CLASS": None,
    # Only the token endpoint is throttled (per client address); nothing else is,
    # so no throttle can limit the throughput figures of the engine.
    "DEFAULT_THROTTLE_RATES": {"auth": os.environ.get("AUTH_THROTTLE_RATE", "30/min")},
    # Depth and surrogate checks on the way in, surrogate-proof on the way out (editor/api/json.py).
    "DEFAULT_PARSER_CLASSES": ["editor.api.json.JSONParser", "rest_framework.parsers.FormParser", "rest_framework.parsers.MultiPartParser"],
    "DEFAULT_RENDERER_CLASSES": ["editor.api.json.JSONRenderer", "rest_framework.renderers.BrowsableAPIRenderer"],
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Orchestrator API",
    "DESCRIPTION": "Build, version and run multi-step LLM workflows.",
    "VERSION": "1.0.0",
    "REDOC_DIST": "SIDECAR",
}

# Model providers. Without OPENAI_API_KEY the offline demo model answers.
OPENAI_API_KEY = os.environ.get("OPENAI_API_KEY", "")
OPENAI_BASE_URL = os.environ.get("OPENAI_BASE_URL", "")
DEFAULT_MODEL = os.environ.get("ORCHESTRATOR_DEFAULT_MODEL", "gpt-4o-mini")
LLM_TIMEOUT_S = float(os.environ.get("LLM_TIMEOUT_S", "120"))
LLM_MAX_RETRIES = int(os.environ.get("LLM_MAX_RETRIES", "3"))
# "Test this node" runs one node in the web request: at most this long (README "Debugging a workflow").
TEST_NODE_TIMEOUT_S = float(os.environ.get("TEST_NODE_TIMEOUT_S", "60"))
LLM_RETRY_BASE_S = float(os.environ.get("LLM_RETRY_BASE_S", "1.0"))
# Pace of the offline demo model, so streaming is visible to a person.
DEMO_TOKEN_DELAY_MS = float(os.environ.get("DEMO_TOKEN_DELAY_MS", "25"))
# Hosts, IPs and CIDRs (comma-separated) the http node may reach although they
# are loopback, private or link-local; empty: public addresses only.
HTTP_NODE_ALLOWED_HOSTS = os.environ.get("HTTP_NODE_ALLOWED_HOSTS", "")
# Credentials are encrypted with this key (Fernet); derived from SECRET_KEY when unset.
CREDENTIALS_KEY = os.environ.get("CREDENTIALS_KEY", "")

# Token deltas are coalesced for this long before they go to the browser.
STREAM_COALESCE_MS = float(os.environ.get("STREAM_COALESCE_MS", "30"))
# A batch of at least ENGINE_SPREAD_MIN_BATCH network steps (a wide fan-out) is
# shared out in chunks of ENGINE_SPREAD_CHUNK to other workers; 0 keeps every
# step on the worker that owns the run.
ENGINE_SPREAD_MIN_BATCH = int(os.environ.get("ENGINE_SPREAD_MIN_BATCH", "32"))
ENGINE_SPREAD_CHUNK = int(os.environ.get("ENGINE_SPREAD_CHUNK", "25"))
# "auto": share only when another worker process is alive (engine/workers.py);
# "always": share even with one (tests); "never": keep every step at home.
ENGINE_SPREAD = os.environ.get("ENGINE_SPREAD", "auto")
# How long a worker process keeps a resolved model credential (engine/providers.py).
ENGINE_CREDENTIAL_CACHE_S = float(os.environ.get("ENGINE_CREDENTIAL_CACHE_S", "5"))
# A chunk no other worker has started within ENGINE_REMOTE_START_S runs on the
# owner; a started chunk whose worker stops beating for
# ENGINE_REMOTE_HEARTBEAT_TTL_S (it died) is run again on the owner.
# The Celery queue shared fan-out chunks go to ("" is the default queue): a
# deployment can give wide fan-outs workers of their own.
ENGINE_SPREAD_QUEUE = os.environ.get("ENGINE_SPREAD_QUEUE", "")
ENGINE_REMOTE_START_S = float(os.environ.get("ENGINE_REMOTE_START_S", "10"))
ENGINE_REMOTE_HEARTBEAT_TTL_S = float(os.environ.get("ENGINE_REMOTE_HEARTBEAT_TTL_S", "5"))
# A started chunk that delivers no result for this long although its worker
# still beats (stuck) is run again on the owner. 0: the longest its steps could
# take (attempts x their time limit, or LLM_TIMEOUT_S, plus backoffs).
ENGINE_CHUNK_STALL_S = float(os.environ.get("ENGINE_CHUNK_STALL_S", "0"))
# Each worker looks for runs whose owner died (lease lapsed) and sends them again.
ENGINE_SWEEP_ORPHANS = env_bool("ENGINE_SWEEP_ORPHANS", True)

# Teams: how long an invitation link works; with EMAIL_HOST set, invitations
# that name an e-mail address are also mailed (the link is always shown to copy).
INVITATION_TTL_DAYS = float(os.environ.get("INVITATION_TTL_DAYS", "7"))
EMAIL_ENABLED = bool(os.environ.get("EMAIL_HOST"))
if EMAIL_ENABLED:
    EMAIL_HOST = os.environ["EMAIL_HOST"]
    EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "25"))
    EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
    EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
    EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
    DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "orchestrator@localhost")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "WARNING")},
}


# Last, once everything above is known: refuse the public default SECRET_KEY on a public site.
from orchestrator_site.security import check_secret_key  # noqa: E402

check_secret_key(SECRET_KEY, DEBUG, ALLOWED_HOSTS)
