"""Django settings for 投行云.

Everything a deployment changes comes from the environment (``IBCLOUD_*``, ``DATABASE_URL``,
``REDIS_URL``); the defaults run the whole platform on one machine with data under ``./var/``.
The configuration reference in ``docs/configuration.md`` lists every variable.
"""

import os
import secrets
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

PACKAGE_DIR = Path(__file__).resolve().parent
REPO_DIR = PACKAGE_DIR.parent.parent


def env(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [part.strip() for part in env(name, default).split(",") if part.strip()]


DATA_DIR = Path(env("IBCLOUD_DATA_DIR", str(REPO_DIR / "var"))).resolve()
DATA_DIR.mkdir(parents=True, exist_ok=True)


def _secret_key() -> str:
    """Use IBCLOUD_SECRET_KEY, else a key generated once and kept in the data directory."""
    if env("IBCLOUD_SECRET_KEY"):
        return env("IBCLOUD_SECRET_KEY")
    key_file = DATA_DIR / "secret_key"
    if not key_file.exists():
        # Created owner-only from the start (no window in which others could read it); O_EXCL
        # lets only one of several processes starting together write it.
        try:
            descriptor = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(descriptor, "w") as handle:
                handle.write(secrets.token_urlsafe(50))
    return key_file.read_text().strip()


SECRET_KEY = _secret_key()
DEBUG = env_bool("IBCLOUD_DEBUG")
ALLOWED_HOSTS = env_list("IBCLOUD_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],testserver")
CSRF_TRUSTED_ORIGINS = env_list("IBCLOUD_CSRF_TRUSTED_ORIGINS")
if env_bool("IBCLOUD_BEHIND_PROXY"):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "user_sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "django_tables2",
    "treebeard",
    "axes",
    "auditlog",
    "ibcloud.core",
    "ibcloud.accounts",
    "ibcloud.audit",
    "ibcloud.notify",
    "ibcloud.crawler",
    "ibcloud.catalog",
    "ibcloud.matching",
    "ibcloud.deals",
    "ibcloud.monitor",
    "ibcloud.demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "user_sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # after authentication: the person's own language (see the class)
    "ibcloud.accounts.middleware.LanguageMiddleware",
    "ibcloud.accounts.middleware.SessionActivityMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "ibcloud.audit.middleware.AuditMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "ibcloud.urls"
WSGI_APPLICATION = "ibcloud.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "ibcloud.core.context_processors.shell",
                "ibcloud.notify.context_processors.notifications",
            ],
        },
    }
]

# --- Database -----------------------------------------------------------------------------------
# ``sqlite:///path`` in DATABASE_URL names another SQLite file with the same options (crawl
# processes started by the tests use it to reach the test database).
if env("DATABASE_URL") and not env("DATABASE_URL").startswith("sqlite"):
    # Health checks: after a failover (docs/deployment-cluster.md) a kept connection to the old
    # primary is replaced before use rather than failing one request in every thread.
    DATABASES = {
        "default": dj_database_url.parse(
            env("DATABASE_URL"), conn_max_age=60, conn_health_checks=True
        )
    }
    # Keyword search (FTS5 / tsvector), the ingest's bulk writes and id reservation are written
    # for these two: refuse others at start rather than fail in the middle of a run.
    if DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        raise ImproperlyConfigured(
            "DATABASE_URL must name a PostgreSQL database (postgres://...) or an SQLite file"
            f" (sqlite:///...), not {DATABASES['default']['ENGINE']}"
        )
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": dj_database_url.parse(env("DATABASE_URL"))["NAME"]
            if env("DATABASE_URL")
            else str(DATA_DIR / "ibcloud.sqlite3"),
            "OPTIONS": {
                # WAL lets readers and one writer work at once; IMMEDIATE avoids lock upgrades
                # that fail with "database is locked" under concurrent writes.
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
            },
            # A file, not memory, so that processes a test starts (crawls) see its data.
            "TEST": {"NAME": str(DATA_DIR / "test-ibcloud.sqlite3")},
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# The cache is shared by every process of a deployment (web, workers), so that a parameter
# changed in one is seen by all: Redis when configured, else files under the data directory.
if env("REDIS_URL"):
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": env("REDIS_URL"),
            "KEY_PREFIX": env("IBCLOUD_QUEUE_PREFIX", "ibcloud"),
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(DATA_DIR / "cache"),
        }
    }

# --- Auth -----------------------------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    # Axes must come first: it refuses locked-out usernames before any password check.
    "axes.backends.AxesStandaloneBackend",
    "ibcloud.accounts.backends.RoleBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "ibcloud.accounts.passwords.PolicyValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "core:home"
LOGOUT_REDIRECT_URL = "accounts:login"

SESSION_ENGINE = "user_sessions.backends.db"
SESSION_COOKIE_AGE = int(env("IBCLOUD_SESSION_AGE", str(8 * 3600)))
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = env_bool("IBCLOUD_SECURE_COOKIES")
CSRF_COOKIE_SECURE = env_bool("IBCLOUD_SECURE_COOKIES")
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True

# Lockout (django-axes). The limit and cool-down are system parameters an admin edits at run
# time; these callables read them so a change applies to the next login attempt.
AXES_FAILURE_LIMIT = "ibcloud.accounts.lockout.failure_limit"
AXES_COOLOFF_TIME = "ibcloud.accounts.lockout.cooloff_time"
AXES_LOCKOUT_PARAMETERS = ["username"]
AXES_RESET_ON_SUCCESS = True
# The cool-down runs from the failure that locked the account; attempts while locked are refused
# (and logged as "locked") without extending it.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_LOCKOUT_CALLABLE = "ibcloud.accounts.lockout.lockout_response"
AXES_ENABLE_ACCESS_FAILURE_LOG = False
AXES_DISABLE_ACCESS_LOG = True
AXES_VERBOSE = False
AXES_IPWARE_PROXY_COUNT = int(env("IBCLOUD_PROXY_COUNT", "0")) or None
AXES_USERNAME_FORM_FIELD = "username"

# --- Audit (django-auditlog) --------------------------------------------------------------------
AUDITLOG_STORE_JSON_CHANGES = True
# Our model adds the event code, user agent and the actor's department (for the data scope).
AUDITLOG_LOGENTRY_MODEL = "audit.AuditEntry"
# auditlog's own migrations create its LogEntry table even though audit.AuditEntry replaces it;
# that orphan table would hold a foreign key to content types and make PostgreSQL refuse the
# TRUNCATE of a test flush. Without migrations, Django creates only the models in use: none.
MIGRATION_MODULES = {"auditlog": None}
# Every model is audited except machine-written records (logs, sessions, job progress), which
# would drown the changes people make.
AUDITLOG_INCLUDE_ALL_MODELS = True
AUDITLOG_EXCLUDE_TRACKING_MODELS = (
    "contenttypes",
    "auth.permission",
    "user_sessions",
    "axes",
    "auditlog",
    "audit",
    "core.job",
    "accounts.loginlog",
    "notify.delivery",
    "notify.notification",
    # crawl runs, their records and health alerts; people's actions on them (run, cancel,
    # acknowledge) are audited as events
    "crawler.crawljob",
    "crawler.rawitem",
    "crawler.sourcealert",
    # what the catalog made of each raw item, and clustering results: machine-written
    "catalog.ingestion",
    "catalog.clusterrun",
    "catalog.topiccluster",
    # dry runs are computed results; running one and applying it are audited as events
    "matching.dryrun",
    # the matching engine's own index and bookkeeping, rebuilt from the catalog
    "matching.investormatchindex",
    "matching.enginestate",
    # hardware samples and alert episodes, written every minute by the nodes themselves
    "monitor.metricsample",
    "monitor.nodealert",
)
# "secret": encrypted fields (core.fields) read back in clear, so they never enter the log.
AUDITLOG_EXCLUDE_TRACKING_FIELDS = (
    "password",
    "last_login",
    "session_data",
    "key_hash",
    "secret",
    "webhook_url",  # notify.Channel: robot URLs carry their access token
    "login_form",  # crawler.CrawlSource: the site's login password
    "cookies",  # crawler.CrawlSource: session cookies
    "search_text",  # catalog: derived from the names and description, which are logged
)
AUDITLOG_DISABLE_REMOTE_ADDR = False
IBCLOUD_AUDIT_RETENTION_DAYS = int(env("IBCLOUD_AUDIT_RETENTION_DAYS", "365"))

# --- I18n -----------------------------------------------------------------------------------------
LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [Path(env("IBCLOUD_LOCALE_DIR", str(PACKAGE_DIR / "locale")))]
TIME_ZONE = env("IBCLOUD_TIME_ZONE", "Asia/Shanghai")
USE_I18N = True
USE_TZ = True

# --- Static and uploaded files --------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "static"
# Front-end packages copied from npm at set-up (bootstrap.py) live in static/vendor.
STATICFILES_DIRS = [PACKAGE_DIR / "static"]
STATIC_ROOT.mkdir(exist_ok=True)  # whitenoise warns when it is missing; files come from finders
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(env("IBCLOUD_MEDIA_DIR", str(DATA_DIR / "media")))
# `ibcloud backup` archives and the scheduled backups (monitor/backups.py)
IBCLOUD_BACKUP_DIR = Path(env("IBCLOUD_BACKUP_DIR", str(DATA_DIR / "backups")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
# Uploaded files (deal attachments) go to S3-compatible storage (MinIO, Ceph, OSS, COS, AWS)
# when a bucket is named. Objects stay private: no public ACL, no public URL; downloads go
# through the scoped views, which stream the object to a user allowed to see it.
IBCLOUD_S3_BUCKET = env("IBCLOUD_S3_BUCKET", "")
if IBCLOUD_S3_BUCKET:
    STORAGES["default"] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": IBCLOUD_S3_BUCKET,
            "endpoint_url": env("IBCLOUD_S3_ENDPOINT_URL", "") or None,
            "access_key": env("IBCLOUD_S3_ACCESS_KEY", "") or None,
            "secret_key": env("IBCLOUD_S3_SECRET_KEY", "") or None,
            "region_name": env("IBCLOUD_S3_REGION", "") or None,
            "location": env("IBCLOUD_S3_PREFIX", ""),
            "default_acl": "private",
            "querystring_auth": True,
            "file_overwrite": False,
        },
    }
WHITENOISE_USE_FINDERS = True

# --- API ------------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "ibcloud.accounts.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": [
        "rest_framework.permissions.IsAuthenticated",
        "ibcloud.core.rest.ModelPermissions",
    ],
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_PAGINATION_CLASS": "ibcloud.core.rest.Pagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "ibcloud.core.rest.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "投行云 IB Cloud API",
    "DESCRIPTION": "REST API of 投行云. Authenticate with `Authorization: Token <key>`.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "ENUM_NAME_OVERRIDES": {
        "CrawlJobStatusEnum": "ibcloud.crawler.models.CrawlJob.Status",
        "PreviewKindEnum": "ibcloud.crawler.services.PREVIEW_KINDS",
        "ChannelKindEnum": "ibcloud.notify.models.ChannelKind",
    },
}

# --- Jobs (Huey) ----------------------------------------------------------------------------------
REDIS_URL = env("REDIS_URL")
IBCLOUD_QUEUE_PREFIX = env("IBCLOUD_QUEUE_PREFIX", "ibcloud")
# Tests run jobs in-process unless a test starts a real worker.
IBCLOUD_JOBS_IMMEDIATE = env_bool("IBCLOUD_JOBS_IMMEDIATE")

# --- Notifications --------------------------------------------------------------------------------
EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
DEFAULT_FROM_EMAIL = env("IBCLOUD_EMAIL_FROM", "ibcloud@localhost")
IBCLOUD_BASE_URL = env("IBCLOUD_BASE_URL", "http://127.0.0.1:8000")

# SSRF guard: hosts or networks (CIDR) that outgoing requests may reach although they are
# loopback or private. Link-local and cloud metadata addresses are refused regardless.
IBCLOUD_SSRF_ALLOWLIST = env_list("IBCLOUD_SSRF_ALLOWLIST")

# Key(s) for secrets stored encrypted in the database; the first encrypts, all decrypt.
IBCLOUD_ENCRYPTION_KEYS = env_list("IBCLOUD_ENCRYPTION_KEYS") or [SECRET_KEY]

# --- Logging --------------------------------------------------------------------------------------
LOG_DIR = Path(env("IBCLOUD_LOG_DIR", str(DATA_DIR / "logs")))
LOG_DIR.mkdir(parents=True, exist_ok=True)
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(process)d %(message)s"},
        # one JSON object per line, so the log viewer (monitor/logs.py) keeps tracebacks whole
        "json": {"()": "ibcloud.monitor.log_format.JsonLineFormatter"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain"},
        "file": {
            # Web, workers and crawl processes share the file: a locking handler rotates it
            # safely (the standard one loses lines, and fails on Windows).
            "class": "concurrent_log_handler.ConcurrentRotatingFileHandler",
            "filename": str(LOG_DIR / "ibcloud.log"),
            "maxBytes": 10 * 1024 * 1024,
            "backupCount": 10,
            "formatter": "json",
            "encoding": "utf-8",
        },
    },
    "root": {"handlers": ["console", "file"], "level": env("IBCLOUD_LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "huey": {"level": "INFO"},
    },
}

# axes.W006: the lock is on the account (username) by design: the issue asks that an account is
# locked after N failures and unlocked by an admin; per-IP throttling belongs to the proxy.
SILENCED_SYSTEM_CHECKS = ["axes.W003", "axes.W006"]
MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"
DJANGO_TABLES2_TEMPLATE = "core/includes/table.html"
DJANGO_TABLES2_PAGE_RANGE = 8
