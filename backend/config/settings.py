"""All settings, read from the environment in this one place.

Defaults give the embedded setup of `make run` (SQLite and a file-system broker under var/), which
(like the tests) sets DEBUG=1; production sets SECRET_KEY, ALLOWED_HOSTS, DATABASE_URL and
CELERY_BROKER_URL, and DEBUG stays off unless set.
"""

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = Path(os.environ.get("VAR_DIR", BASE_DIR / "var")).resolve()
VAR_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = env_bool("DEBUG", False)
SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
    SECRET_KEY = "insecure-dev-key-only-for-make-run-and-tests"
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]" if DEBUG else "")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "axes",
    "drf_spectacular",
    "django_celery_beat",
    "django_celery_results",
    "auditlog",
    "backend.common",
    "backend.accounts",
    "backend.projects",
    "backend.imaging",
    "backend.reading",
    "backend.learning",
    "backend.exports",
    "backend.dashboard",
    "backend.demo",  # above every domain app: the demo and the simulated reading
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "backend.common.middleware.BadInputMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "auditlog.middleware.AuditlogMiddleware",  # the actor of a session request's logged changes
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",  # a locked-out login outside the API (the Django admin) answers 429
]

ROOT_URLCONF = "backend.config.urls"
WSGI_APPLICATION = "backend.config.wsgi.application"
ASGI_APPLICATION = "backend.config.asgi.application"

FRONTEND_DIST = BASE_DIR / "frontend" / "dist"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
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

# Database: DATABASE_URL, e.g. postgres://postgres@127.0.0.1:5432/spine; SQLite under var/ otherwise.
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{VAR_DIR / 'db.sqlite3'}"),
        conn_max_age=int(os.environ.get("CONN_MAX_AGE", "60")),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # The worklist's and dashboard's short queries have plan costs above PostgreSQL's JIT threshold:
    # compiling them took 600 of 980 ms of a worklist page at 50,000 cases (benchmarks/volume.py).
    DATABASES["default"].setdefault("OPTIONS", {})["options"] = "-c jit=off"
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Web, worker and beat share the file: wait for locks instead of failing, and let
    # readers proceed while one process writes.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # A file, not memory, so that a real Celery worker process can see the test database.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test-db.sqlite3")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Brute force (django-axes): the LOGIN_FAILURE_LIMIT-th wrong password for one username within
# LOGIN_COOLOFF_MINUTES answers 429 and locks that username out for LOGIN_COOLOFF_MINUTES.
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
AXES_FAILURE_LIMIT = int(os.environ.get("LOGIN_FAILURE_LIMIT", "6"))
AXES_COOLOFF_TIME = timedelta(minutes=float(os.environ.get("LOGIN_COOLOFF_MINUTES", "15")))
# By username alone: readers of one hospital share its address, which one typo-prone reader must not lock.
AXES_LOCKOUT_PARAMETERS = ["username"]
AXES_RESET_ON_SUCCESS = True
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False  # a lockout ends on time, however hard it is knocked on
SILENCED_SYSTEM_CHECKS = ["axes.W006"]  # "no ip_address in AXES_LOCKOUT_PARAMETERS": on purpose, see above
TOKEN_TTL_HOURS = float(os.environ.get("TOKEN_TTL_HOURS", "12"))

# Field-level history (django-auditlog) of the models whose changes matter to a study, from any
# path (the API, the Django admin, a shell); the named actions of a project (promote, exports
# downloaded, ...) are its audit entries (projects.AuditEntry, GET /api/projects/<slug>/audit/).
AUDITLOG_INCLUDE_TRACKING_MODELS = (
    {"model": "projects.project"},
    {"model": "projects.membership", "include_fields": ["project", "user", "role"]},
    {"model": "accounts.readerprofile", "include_fields": ["user", "experience"]},
    {"model": "learning.modelversion", "include_fields": ["number", "status", "promoted_at", "checkpoint"]},
    {"model": "imaging.studypair", "include_fields": ["ct_study", "mr_study", "set_by_admin"]},
    {"model": "reading.case", "include_fields": ["project", "pair", "blinded", "in_reference_set"]},
)
AUDITLOG_STORE_JSON_CHANGES = True

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", VAR_DIR / "staticfiles"))
STATICFILES_DIRS = [FRONTEND_DIST] if FRONTEND_DIST.is_dir() else []
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", VAR_DIR / "media"))
MODELS_DIR = Path(os.environ.get("MODELS_DIR", VAR_DIR / "models"))  # checkpoints the platform trains
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = DEBUG

LOGIN_URL = "/login"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Token first, so that an anonymous request is told 401 with a WWW-Authenticate header.
        "backend.accounts.authentication.ExpiringTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "backend.common.schema.ApiSchema",  # every operation documents its errors
    "EXCEPTION_HANDLER": "backend.common.exceptions.api_exception_handler",
    "DEFAULT_PAGINATION_CLASS": "backend.common.inputs.StrictLimitOffsetPagination",
    "URL_FORMAT_OVERRIDE": None,  # no ?format=: the Accept header chooses (exports: JSON errors, files)
    "PAGE_SIZE": 50,
    # The prediction API, per user (token): outside callers share the server with the readers.
    "DEFAULT_THROTTLE_RATES": {"predict": os.environ.get("PREDICT_RATE", "120/hour")},
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Cervical stenosis labeling platform API",
    "DESCRIPTION": "Readers grade cervical spinal stenosis on paired CT/MRI; workers learn from the labels.",
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Choice sets that share a field name ("source") across components get names of their own.
    "ENUM_NAME_OVERRIDES": {"LevelPositionSourceEnum": ["finder", "model", "reader"]},
    # Bodies are documented as JSON, the API's language (forms are parsed too, but cannot say null or
    # nest); uploads and STOW-RS document their multipart bodies themselves.
    "PARSER_WHITELIST": ["rest_framework.parsers.JSONParser"],
    # A PATCH here changes the one thing its body names (a pair's MR study, a member's role): the
    # body's fields are required, as the views ask, not made optional as for a partial update.
    "COMPONENT_SPLIT_PATCH": False,
}

# Celery: Redis in production; without a broker server, kombu's file-system transport under var/.
CELERY_TASK_TIME_LIMIT = int(os.environ.get("CELERY_TASK_TIME_LIMIT", str(4 * 3600)))
CELERY_TASK_SOFT_TIME_LIMIT = int(os.environ.get("CELERY_TASK_SOFT_TIME_LIMIT", str(4 * 3600 - 60)))
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "filesystem://localhost/")
if CELERY_BROKER_URL.startswith("filesystem:"):
    BROKER_DIR = Path(os.environ.get("CELERY_BROKER_DIR", VAR_DIR / "broker"))
    for sub in ("queue", "control", "processed"):
        (BROKER_DIR / sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "control_folder": str(BROKER_DIR / "control"),
        "processed_folder": str(BROKER_DIR / "processed"),
        "polling_interval": 0.2,
    }
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": CELERY_TASK_TIME_LIMIT + 600}
CELERY_RESULT_BACKEND = os.environ.get("CELERY_RESULT_BACKEND", "django-db")
CELERY_RESULT_EXTENDED = True
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_TIMEZONE = TIME_ZONE
CELERY_TASK_SEND_SENT_EVENT = True
CELERY_WORKER_SEND_TASK_EVENTS = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1  # a worker holds one task beyond those it runs, not four
# A task is acknowledged when it ends, so one whose worker dies is delivered again (every task but a
# training is safe to run twice; a training acks on receipt: learning.tasks.train_model). Redis hands
# an unacknowledged task to another worker after the visibility timeout: longer than any task may run.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_BEAT_SCHEDULE = {
    "preannotate-pending": {"task": "learning.preannotate_pending", "schedule": 60.0},
    "retrain-nightly": {"task": "learning.retrain_scheduled", "schedule": crontab(hour=2, minute=0)},
    "reap-stale-trainings": {"task": "learning.reap_stale_trainings", "schedule": 300.0},
}
# Trainings run on their own queue, so a worker for them can be sized apart (`-Q training`).
TRAINING_QUEUE = os.environ.get("TRAINING_QUEUE", "training")
CELERY_TASK_ROUTES = {"learning.train_model": {"queue": TRAINING_QUEUE}}
TRAINING_STALE_AFTER_S = int(os.environ.get("TRAINING_STALE_AFTER_S", "900"))
# A run still queued this long after its task was sent is sent again (a broker restart loses messages).
TRAINING_RESEND_AFTER_S = int(os.environ.get("TRAINING_RESEND_AFTER_S", "1800"))
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A champion's detector places level lines (over the model-free finder's) only when its boxes matched
# the readers' (IoU >= 0.5) on at least this share of its held-out test levels.
MODEL_LEVEL_POSITIONS_MIN_RECALL = float(os.environ.get("MODEL_LEVEL_POSITIONS_MIN_RECALL", "0.95"))

# Security: on whenever DEBUG is off (production behind TLS).
if not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "31536000"))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_CONTENT_TYPE_NOSNIFF = True
    SECURE_REDIRECT_EXEMPT = [r"^api/health/$"]

LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "verbose": {"format": "%(asctime)s %(levelname)s %(name)s %(process)d %(message)s"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "verbose"}},
    "root": {"level": LOG_LEVEL, "handlers": ["console"]},
    "loggers": {
        "django.db.backends": {"level": "WARNING", "handlers": ["console"], "propagate": False},
        "celery": {"level": LOG_LEVEL, "handlers": ["console"], "propagate": False},
    },
}

HEALTH_CHECK_TIMEOUT = float(os.environ.get("HEALTH_CHECK_TIMEOUT", "2.0"))

# Imaging: CT and MRI of a patient pair when their study dates lie this close.
PAIRING_WINDOW_DAYS = int(os.environ.get("PAIRING_WINDOW_DAYS", "30"))
# Uploads larger than this are ingested by a worker; smaller ones at once.
INGEST_ASYNC_BYTES = int(os.environ.get("INGEST_ASYNC_BYTES", str(50 * 1024 * 1024)))
# Jobs of at least INGEST_PROCESSES_MIN_FILES files are read, checked and copied by this many worker
# processes while the job's own process writes the database (0: never).
INGEST_PROCESSES = int(os.environ.get("INGEST_PROCESSES", str(min(4, os.cpu_count() or 1))))
INGEST_PROCESSES_MIN_FILES = int(os.environ.get("INGEST_PROCESSES_MIN_FILES", "400"))
# The DICOM C-STORE SCP (`manage.py dicom_scp --project SLUG`): a PACS or modality sends to this AE.
DICOM_SCP_AE = os.environ.get("DICOM_SCP_AE", "SPINE")
DICOM_SCP_HOST = os.environ.get("DICOM_SCP_HOST", "127.0.0.1")
DICOM_SCP_PORT = int(os.environ.get("DICOM_SCP_PORT", "11112"))
# Calling AE titles allowed to associate (comma-separated); empty: any.
DICOM_SCP_ALLOWED_AES = [
    a.strip() for a in os.environ.get("DICOM_SCP_ALLOWED_AES", "").split(",") if a.strip()
]
# Where results go back: dimse://AE_TITLE@host:port (C-STORE) or an http(s) DICOMweb root (STOW-RS);
# empty: nothing is sent. A finalised case's SRs are pushed there; a failed push is retried
# RESULTS_PUSH_RETRIES times, RESULTS_PUSH_BACKOFF_S apart at first and doubling (at most an hour).
RESULTS_DESTINATION = os.environ.get("RESULTS_DESTINATION", "")
RESULTS_PUSH_RETRIES = int(os.environ.get("RESULTS_PUSH_RETRIES", "6"))
RESULTS_PUSH_BACKOFF_S = float(os.environ.get("RESULTS_PUSH_BACKOFF_S", "30"))
# The PACS an admin finds studies on and retrieves them from (C-FIND, C-GET): dimse://AE_TITLE@host:port.
PACS_PEER = os.environ.get("PACS_PEER", "")
# The zips of one upload expand to at most this many bytes, in this many files, and to at most this
# many times their compressed size; a zip bomb is refused (413/400) before it fills the disk.
INGEST_ZIP_MAX_BYTES = int(os.environ.get("INGEST_ZIP_MAX_BYTES", str(20 * 1024**3)))
INGEST_ZIP_MAX_MEMBERS = int(os.environ.get("INGEST_ZIP_MAX_MEMBERS", "100000"))
INGEST_ZIP_MAX_RATIO = float(os.environ.get("INGEST_ZIP_MAX_RATIO", "100"))
DATA_UPLOAD_MAX_NUMBER_FILES = 10000
FILE_UPLOAD_TEMP_DIR = str(MEDIA_ROOT / "tmp")
Path(FILE_UPLOAD_TEMP_DIR).mkdir(parents=True, exist_ok=True)
