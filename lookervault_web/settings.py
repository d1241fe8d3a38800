"""Settings read from the environment (12-factor).

SQLite in a data directory is the embedded default "so one can just check out the code and it works";
set DATABASE_URL and REDIS_URL for PostgreSQL and the Redis broker at scale.
"""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent


def envbool(name: str, default: str) -> bool:
    return os.getenv(name, default).strip().lower() in ("1", "true", "yes", "on")


def envint(name: str, default: str) -> int:
    return int(os.getenv(name, default))


def envlist(name: str, default: str) -> list[str]:
    return [part.strip() for part in os.getenv(name, default).split(",") if part.strip()]


DEBUG = envbool("DEBUG", "false")
SECRET_KEY = os.getenv("SECRET_KEY", "insecure-development-key-change-me-" + "x" * 20)
ALLOWED_HOSTS = envlist("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = envlist("CSRF_TRUSTED_ORIGINS", "")

DATA_DIR = Path(os.getenv("LOOKERVAULT_DATA_DIR", str(BASE_DIR / "data"))).resolve()
BACKUP_DIR = DATA_DIR / "backups"
MEDIA_ROOT = DATA_DIR / "media"
MEDIA_URL = "/media/"
DATA_DIR.mkdir(parents=True, exist_ok=True)

# Fernet key material for destination secrets; defaults to one derived from SECRET_KEY.
# Set it explicitly in production so that rotating SECRET_KEY does not orphan stored secrets.
LOOKERVAULT_ENCRYPTION_KEY = os.getenv("LOOKERVAULT_ENCRYPTION_KEY", "")
# Largest backup accepted by the browser upload, in bytes.
LOOKERVAULT_MAX_UPLOAD_BYTES = envint("LOOKERVAULT_MAX_UPLOAD_BYTES", str(20 * 1024**3))
# How long a silent worker keeps its session (seconds): a "running" session whose heartbeat is
# older than this lost its process, and resume may take it over.
LOOKERVAULT_LEASE_SECONDS = float(os.getenv("LOOKERVAULT_LEASE_SECONDS", "60"))
# Run sessions as a coordinator task plus chunk tasks any worker on any machine picks up.
LOOKERVAULT_DISTRIBUTED = envbool("LOOKERVAULT_DISTRIBUTED", "false")
# A running restore's threads keep to one CPU core (restore.engine.limits.one_core).
LOOKERVAULT_ONE_CORE = envbool("LOOKERVAULT_ONE_CORE", "true")
# Items per chunk task of a distributed session.
LOOKERVAULT_CHUNK_SIZE = envint("LOOKERVAULT_CHUNK_SIZE", "100")
# Database connections a qcluster leaves free for web processes, management commands, psql.
LOOKERVAULT_DB_OTHER_CLIENTS = envint("LOOKERVAULT_DB_OTHER_CLIENTS", "10")
# The CA bundle (a file or a directory) that verifies a destination's certificate: requests'
# own variables; empty: certifi's bundle.
LOOKERVAULT_CA_BUNDLE = os.getenv("REQUESTS_CA_BUNDLE") or os.getenv("CURL_CA_BUNDLE") or ""

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "restore",  # before django_q: its `qcluster` command checks the connection budget first
    "django_q",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "lookervault_web.urls"
WSGI_APPLICATION = "lookervault_web.wsgi.application"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

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


def database_config(url: str) -> dict:
    """Parse DATABASE_URL; SQLite gets the options that let many writers share it safely."""
    config = dj_database_url.parse(url, conn_max_age=60, conn_health_checks=True)
    if config["ENGINE"] == "django.db.backends.sqlite3":
        # Measured: with Django's defaults a busy qcluster lost task results to "database is
        # locked"; WAL + IMMEDIATE transactions + a long busy timeout lose none. Connections
        # persist (CONN_MAX_AGE) like PostgreSQL's: reopening one per restored item cost 12%.
        config["OPTIONS"] = {
            "timeout": 30,
            "transaction_mode": "IMMEDIATE",
            "init_command": (
                "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=30000;"
            ),
        }
    elif config["ENGINE"] == "django.db.backends.postgresql":
        # A psycopg pool per process, at most LOOKERVAULT_DB_POOL_SIZE connections, and restore
        # threads give theirs back before every Looker request (restore.engine.limits.db_budget): a
        # worker process' 40 threads share a few connections instead of holding one each while
        # they wait on HTTP. A qcluster may hold Q_WORKERS × size + 4; `manage.py check` warns
        # and `manage.py qcluster` refuses when PostgreSQL cannot give that (docs/performance.md).
        # A thread waits for a free connection (timeout) rather than failing. The pool replaces
        # persistent connections (Django refuses both).
        config["CONN_MAX_AGE"] = 0
        config.setdefault("OPTIONS", {})["pool"] = {
            "min_size": 1,
            "max_size": envint("LOOKERVAULT_DB_POOL_SIZE", "5"),
            "timeout": envint("LOOKERVAULT_DB_POOL_TIMEOUT", "300"),
        }
    return config


DATABASES = {
    "default": database_config(os.getenv("DATABASE_URL", f"sqlite:///{DATA_DIR / 'db.sqlite3'}"))
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(os.getenv("STATIC_ROOT", str(DATA_DIR / "staticfiles")))
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # whitenoise warns on every request otherwise
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Serve straight from static/ without collectstatic (demo, tests); production collects and
# serves hashed, compressed files (settings_production).
WHITENOISE_USE_FINDERS = True

# Uploads larger than this go to a temporary file on disk, never into memory.
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024**2
FILE_UPLOAD_TEMP_DIR = os.getenv("FILE_UPLOAD_TEMP_DIR") or None
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024**2

REDIS_URL = os.getenv("REDIS_URL", "")
Q_CLUSTER: dict = {
    "name": os.getenv("Q_CLUSTER_NAME", "lookervault"),
    "workers": envint("Q_WORKERS", "4"),
    # A task is killed after `timeout` s; `retry` must exceed it or the ORM broker hands a running
    # task to a second worker. Restore tasks are long: sessions checkpoint and resume.
    "timeout": envint("Q_TIMEOUT", "21600"),
    "retry": envint("Q_RETRY", "21700"),
    "max_attempts": 1,
    "ack_failures": True,
    "catch_up": False,
    "save_limit": 1000,
    "poll": 0.5,
    "label": "Tasks",
}
if REDIS_URL:
    Q_CLUSTER["redis"] = REDIS_URL
else:
    Q_CLUSTER["orm"] = "default"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.getenv("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
