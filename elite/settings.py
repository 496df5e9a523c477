"""Settings for Elite Writing Services, read from the environment (django-environ).

Every variable is listed in .env.example. With no environment at all the site runs
in its embedded default (DESIGN.md §2): SQLite, in-memory channel layer, eager Celery,
local files, console email and the built-in test payment provider.
"""

import datetime
import sys
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

# --- Core -----------------------------------------------------------------
DEBUG = env.bool("DEBUG", default=True)
SECRET_KEY = env("SECRET_KEY", default="")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=[])
if DEBUG:
    SECRET_KEY = SECRET_KEY or "dev-only-insecure-key-never-used-in-production"
    ALLOWED_HOSTS = ALLOWED_HOSTS or ["127.0.0.1", "localhost", "testserver"]
else:
    if len(SECRET_KEY) < 50:
        raise ImproperlyConfigured("DEBUG is off: set SECRET_KEY (at least 50 random characters).")
    if not ALLOWED_HOSTS:
        raise ImproperlyConfigured("DEBUG is off: set ALLOWED_HOSTS (comma-separated host names).")
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
SITE_URL = env("SITE_URL", default="http://127.0.0.1:8000").rstrip("/")
SITE_NAME = "Elite Writing Services"
SITE_ID = 1

# Daphne (and the Twisted it imports: ~260 ms and ~40 MB per process) is only needed by the
# ASGI `runserver` of `make run`, which serves pages and websockets in one process. gunicorn
# workers, uvicorn and Celery never load it.
ASGI_DEV_SERVER = Path(sys.argv[0]).name == "manage.py" and sys.argv[1:2] == ["runserver"]

INSTALLED_APPS = [
    *(["daphne"] if ASGI_DEV_SERVER else []),
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.sites",
    "django.contrib.humanize",
    "channels",
    "allauth",
    "allauth.account",
    "allauth.usersessions",  # tracks each login's session so suspending a user can end them all
    "crispy_forms",
    "crispy_bootstrap5",
    "django_celery_beat",
    "csp",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI and ReDoc assets served by us (whitenoise), never a CDN
    # Our apps, lowest layer first (docs/architecture.md); elite, the composition root, is no app.
    "core",
    "audit",
    "accounts",
    "notifications",
    "files",
    "coaches",
    "requests_app",
    "orders",
    "messaging",
    "payments",
    "documents",
    "adminpanel",
    "ops",
]

MIDDLEWARE = [
    "ops.middleware.MetricsMiddleware",  # outermost: times and counts what the client got
    "elite.middleware.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "accounts.middleware.SuspendedUserMiddleware",  # after messages: it tells the user why they were logged out
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    # After auth, messages and the header middleware: the 413 page shows the visitor's own navbar and carries
    # the page headers. Nothing above reads the body (CSRF only in process_view, which runs after this).
    "elite.middleware.RequestBodyLimitMiddleware",
    "elite.middleware.DomainErrorMiddleware",
]

# Payment providers' webhook deliveries take a shorter chain (elite/handlers.py): csrf_exempt POSTs with no
# session, user, messages or HTML, so these are left out for them. Derived from MIDDLEWARE, so a new entry
# there reaches webhooks too; the handler refuses to start unless this is MIDDLEWARE's order with gaps.
WEBHOOK_PATH_PREFIXES = ["/payments/webhooks/"]
_NOT_FOR_WEBHOOKS = frozenset(
    {
        "whitenoise.middleware.WhiteNoiseMiddleware",  # static files only
        "django.contrib.sessions.middleware.SessionMiddleware",
        "django.middleware.csrf.CsrfViewMiddleware",  # the webhook views are csrf_exempt
        "django.contrib.auth.middleware.AuthenticationMiddleware",
        "django.contrib.messages.middleware.MessageMiddleware",
        "accounts.middleware.SuspendedUserMiddleware",
        "django.middleware.clickjacking.XFrameOptionsMiddleware",  # JSON answers to machines, never framed
        "csp.middleware.CSPMiddleware",
        "allauth.account.middleware.AccountMiddleware",
    }
)
WEBHOOK_MIDDLEWARE = [name for name in MIDDLEWARE if name not in _NOT_FOR_WEBHOOKS]

ROOT_URLCONF = "elite.urls"
WSGI_APPLICATION = "elite.wsgi.application"
ASGI_APPLICATION = "elite.asgi.application"

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
                "elite.context_processors.site",
                "notifications.context_processors.unread",
                # Django's csrf_token (its built-in processor's, replaced), masked in fewer Python calls (core.csrf)
                "core.csrf.context",
            ],
            # {% url %} everywhere answers from a per-process memo of reverse() (core.templatetags.urls).
            "builtins": ["core.templatetags.urls"],
        },
    },
]

# --- Database ---------------------------------------------------------------
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DATABASES["default"]["ATOMIC_REQUESTS"] = False
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and env.bool(
    "DATABASE_PREPARED_STATEMENTS", default=True
):
    # Lets core.sqlmemo keep its prepare=True statements prepared on the server (parsed and planned once per
    # connection). Django's own cursors bind on the client and never prepare, so nothing else is. Off (false)
    # behind a pooler that cannot keep prepared statements (PgBouncer in transaction mode before 1.21).
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("prepare_threshold", 5)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"].setdefault("OPTIONS", {}).update({"timeout": 20, "transaction_mode": "IMMEDIATE"})
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: cache, channel layer, Celery broker ------------------------------
REDIS_URL = env("REDIS_URL", default="")
CACHE_KEY_PREFIX = env("CACHE_KEY_PREFIX", default="ews")
if REDIS_URL:
    CACHES = {
        "default": {
            # core.cache.RedisCache (Django's, reusing one client, degrading to a per-process cache while
            # Redis is down) counting hits and misses for /metrics. Short socket timeouts: a black-holed
            # Redis costs a second, not a hung request.
            "BACKEND": "ops.cache.CountedRedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": CACHE_KEY_PREFIX,
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
    # Chat fan-out (messaging): the pub/sub layer. The list-based RedisChannelLayer stopped delivering
    # to every consumer of a process after one websocket disconnected mid-receive (a cancelled
    # BZPOPMIN under redis-py 8; reproduced here, cf. django/channels_redis#366). Pub/sub has no
    # blocking pops, and what a dropped client misses it fetches again (GET ...?after=<id>).
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL], "prefix": f"{CACHE_KEY_PREFIX}:asgi"},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "ops.cache.CountedLocMemCache", "KEY_PREFIX": CACHE_KEY_PREFIX}}
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

CELERY_BROKER_URL = env("CELERY_BROKER_URL", default=REDIS_URL or "memory://")
CELERY_RESULT_BACKEND = None
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=not REDIS_URL)
CELERY_TASK_EAGER_PROPAGATES = True
# A task's message is acked when it finishes, and put back if its worker process dies mid-task (SIGKILL,
# OOM: WorkerLostError) instead of being acked and lost; every task with an outside effect is therefore
# idempotent (emails through the notifications outbox). A worker killed outright leaves its message
# unacked: Redis redelivers it after the visibility timeout, which must exceed our longest task (a
# clamd scan of the largest upload, a nightly reconciliation) or a running task would be started twice.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
# A worker looks for such messages every CELERY_UNACKED_RESTORE_SECONDS. kombu 5.7 scans only on every
# tenth look by default (100 s between scans); throttle 1 makes the interval the only control.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT_SECONDS", default=900),
    "unacked_restore_interval": env.int("CELERY_UNACKED_RESTORE_SECONDS", default=10),
    "unacked_restore_throttle": 1,
}
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TIMEZONE = "UTC"
# The queue tasks go to and workers read (one name per deployment sharing a Redis).
CELERY_TASK_DEFAULT_QUEUE = env("CELERY_QUEUE", default="celery")
# The worker logs through LOGGING below (JSON, with the request id of the request that queued the task).
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
# Filled by each app's tasks (see elite.beat); beat reads it at start.
CELERY_BEAT_SCHEDULE: dict = {}

# Read from the cache (Redis in production), written through to the database: a logged-in page's
# session costs a cache GET instead of a SELECT (issue 13). Logout, rotation on login and
# UserSession.end() go through the store, which deletes both copies; a row deleted by hand in the
# database outlives its deletion in the cache until its expiry (chat sockets read the database).
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"

# --- Auth and accounts (django-allauth) ----------------------------------------
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "dashboard"
ACCOUNT_LOGOUT_REDIRECT_URL = "landing"
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
# Mandatory for the browser login (allauth's code mode requires it, a system check refuses "optional"): an
# unconfirmed account logging in is mailed a code and types it, then it is in. The API's token login checks
# only the password (accounts.api.views.LoginView); requests and payments still check has_verified_email.
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
# Signup mails a short code typed in the same browser, which signs the user in (issue 15 item 5); the same
# email also carries a link for another device (accounts.verification.ConfirmLinkView: allauth's code mode
# has no link of its own). Five tries per code, 15 minutes; a new code on request (twice per signup).
ACCOUNT_EMAIL_VERIFICATION_BY_CODE_ENABLED = True
ACCOUNT_EMAIL_VERIFICATION_BY_CODE_MAX_ATTEMPTS = 5
ACCOUNT_EMAIL_VERIFICATION_BY_CODE_TIMEOUT = 15 * 60
ACCOUNT_EMAIL_VERIFICATION_SUPPORTS_RESEND = True
# "Use a different email" on the code page exists only for a new account (allauth offers it when the
# process has a user), so it would tell a taken email from a new one (DESIGN §7): off.
ACCOUNT_EMAIL_VERIFICATION_SUPPORTS_CHANGE = False
ACCOUNT_CONFIRM_EMAIL_ON_GET = False
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
ACCOUNT_PREVENT_ENUMERATION = True
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_SIGNUP_FORM_CLASS = "accounts.forms.RoleSignupForm"
# Never says an email is taken (DESIGN §7); accounts.signup.SignupView serves /accounts/signup/.
ACCOUNT_FORMS = {
    "signup": "accounts.signup.SignupForm",
    "confirm_email_verification_code": "accounts.verification.CodeForm",
    # allauth's own forms, relabelled in sentence case like the rest of the site.
    "login": "accounts.allauth_forms.LoginForm",
    "change_password": "accounts.allauth_forms.ChangePasswordForm",
    "set_password": "accounts.allauth_forms.SetPasswordForm",
    "reset_password_from_key": "accounts.allauth_forms.ResetPasswordKeyForm",
}
ACCOUNT_ADAPTER = "accounts.adapter.AccountAdapter"
ACCOUNT_EMAIL_SUBJECT_PREFIX = "[Elite Writing Services] "
ACCOUNT_RATE_LIMITS = {
    # allauth keeps these counters in the shared cache, so they hold across web machines.
    "login": "30/m/ip",
    "login_failed": "10/m/ip,5/15m/key",
    "signup": "20/h/ip",
    "reset_password": "20/m/ip,5/m/key",
    "reset_password_from_key": "20/m/ip",
    # Code emails per address: one per 10 s (allauth's code-mode default; a second within that answers
    # 429, as the earlier code is still on its way) and 10 an hour.
    "confirm_email": "1/10s/key,10/h/key",
    # Typed codes per client IP (accounts.verification); each code also dies after 5 wrong tries.
    "verify_email_code": "30/h/ip",
    "change_password": "5/m/user",
}
ACCOUNT_SESSION_REMEMBER = None
# Behind nginx/a load balancer, the client IP is the Nth X-Forwarded-For hop from the right; allauth's
# per-IP rate limits need it (0 = use REMOTE_ADDR, right for `make run`).
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
ALLAUTH_TRUSTED_PROXY_COUNT = TRUSTED_PROXY_COUNT
USERSESSIONS_TRACK_ACTIVITY = False

CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

# --- Internationalisation ------------------------------------------------------
LANGUAGE_CODE = "en-gb"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Static files (front-end libraries come from npm: package.json) ----------------
STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
NODE_MODULES = BASE_DIR / "node_modules"
STATICFILES_DIRS = [
    BASE_DIR / "static",
    ("vendor/bootstrap", NODE_MODULES / "bootstrap" / "dist"),
    ("vendor/bootstrap-icons", NODE_MODULES / "bootstrap-icons" / "font"),
    ("vendor/chart.js", NODE_MODULES / "chart.js" / "dist"),
]
STATIC_MANIFEST = env.bool("STATIC_MANIFEST", default=not DEBUG)
WHITENOISE_USE_FINDERS = DEBUG
WHITENOISE_AUTOREFRESH = DEBUG

# --- File storage (local folder, or S3 via django-storages) ----------------------
MEDIA_ROOT = Path(env("MEDIA_ROOT", default=str(BASE_DIR / "media")))
MEDIA_URL = "/media/"
AWS_STORAGE_BUCKET_NAME = env("AWS_STORAGE_BUCKET_NAME", default="")
FILE_STORAGE_KIND = "s3" if AWS_STORAGE_BUCKET_NAME else "local"
if FILE_STORAGE_KIND == "s3":
    AWS_S3_REGION_NAME = env("AWS_S3_REGION_NAME", default="us-east-1")
    AWS_S3_ENDPOINT_URL = env("AWS_S3_ENDPOINT_URL", default=None)
    AWS_ACCESS_KEY_ID = env("AWS_ACCESS_KEY_ID", default=None)
    AWS_SECRET_ACCESS_KEY = env("AWS_SECRET_ACCESS_KEY", default=None)
    AWS_DEFAULT_ACL = "private"
    AWS_QUERYSTRING_AUTH = True
    AWS_QUERYSTRING_EXPIRE = env.int("FILE_URL_TTL_SECONDS", default=300)
    AWS_S3_FILE_OVERWRITE = False
    # files: reading an object back (virus scan) spools to disk above 1 MB instead of holding it all in memory.
    AWS_S3_MAX_MEMORY_SIZE = 1024 * 1024
    AWS_S3_SIGNATURE_VERSION = "s3v4"  # files: presigned download URLs use SigV4 (X-Amz-Expires)
    # files: uploads (at most FILE_UPLOAD_MAX_BYTES) go up as one PUT streamed from the temp file;
    # a multipart upload would hold whole parts in memory. Downloads buffer little.
    from boto3.s3.transfer import TransferConfig

    AWS_S3_TRANSFER_CONFIG = TransferConfig(multipart_threshold=256 * 1024 * 1024, max_io_queue=8)
    _default_storage = {"BACKEND": "storages.backends.s3.S3Storage"}
else:
    _default_storage = {"BACKEND": "django.core.files.storage.FileSystemStorage"}
STORAGES = {
    "default": _default_storage,
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if STATIC_MANIFEST
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
FILE_UPLOAD_MAX_BYTES = env.int("FILE_UPLOAD_MAX_BYTES", default=10 * 1024 * 1024)
FILE_URL_TTL_SECONDS = env.int("FILE_URL_TTL_SECONDS", default=300)
# Uploads above this size spool to a temporary file instead of memory.
FILE_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
# Whole request bodies above this answer 413 before Django reads them (elite.middleware).
MAX_REQUEST_BODY_BYTES = env.int("MAX_REQUEST_BODY_BYTES", default=FILE_UPLOAD_MAX_BYTES + 1024 * 1024)

# files: a DOCX is a ZIP; these limits are read from its directory before anything is unpacked (zip bombs).
# deploy/clamd.conf's MaxFileSize/MaxScanSize/MaxFiles sit above them, so clamd reads any accepted file whole.
FILE_DOCX_MAX_UNCOMPRESSED_BYTES = env.int("FILE_DOCX_MAX_UNCOMPRESSED_BYTES", default=50 * 1024 * 1024)
FILE_DOCX_MAX_ENTRIES = env.int("FILE_DOCX_MAX_ENTRIES", default=1000)
FILE_DOCX_MAX_COMPRESSION_RATIO = env.int("FILE_DOCX_MAX_COMPRESSION_RATIO", default=100)

# --- Virus scanning (clamd) ---------------------------------------------------
CLAMD_URL = env("CLAMD_URL", default="")
# files: tcp://host:3310 or unix:///path/clamd.sock. Without it only DEBUG may run, with a no-op
# scanner that marks uploads clean and logs a warning; production refuses to start.
CLAMD_TIMEOUT_SECONDS = env.float("CLAMD_TIMEOUT_SECONDS", default=60.0)
FILE_SCAN_NOOP_ALLOWED = DEBUG and not CLAMD_URL
if not DEBUG and not CLAMD_URL:
    raise ImproperlyConfigured("DEBUG is off: set CLAMD_URL (tcp://host:3310 or unix:///path/clamd.sock).")
FILE_SCAN_MAX_RETRIES = env.int("FILE_SCAN_MAX_RETRIES", default=5)
FILE_SCAN_RETRY_BASE_DELAY = env.int("FILE_SCAN_RETRY_BASE_DELAY", default=30)  # seconds, doubles per retry
FILE_SCAN_RETRY_MAX_DELAY = 3600
# files: uploads still pending this long after their last change have their scan queued again (beat job).
FILE_SCAN_STALE_MINUTES = env.int("FILE_SCAN_STALE_MINUTES", default=60)
CELERY_BEAT_SCHEDULE["files-requeue-stale-scans"] = {"task": "files.tasks.requeue_stale_scans", "schedule": 15 * 60}
CELERY_BEAT_SCHEDULE["files-sweep-orphans"] = {"task": "files.tasks.sweep_orphans", "schedule": 6 * 3600}
# A user's data export (a ZIP of everything that is theirs) can be downloaded this many days.
FILE_EXPORT_DAYS = env.int("FILE_EXPORT_DAYS", default=7)
CELERY_BEAT_SCHEDULE["files-expire-exports"] = {"task": "files.tasks.expire_exports", "schedule": 6 * 3600}

# --- Email ------------------------------------------------------------------
_email = env.email_url("EMAIL_URL", default="consolemail://")
EMAIL_BACKEND = _email["EMAIL_BACKEND"]
EMAIL_HOST = _email.get("EMAIL_HOST", "")
EMAIL_PORT = _email.get("EMAIL_PORT") or 25
EMAIL_HOST_USER = _email.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = _email.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = _email.get("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = _email.get("EMAIL_USE_SSL", False)
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="Elite Writing Services <no-reply@elitewriting.example>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
STAFF_ALERT_EMAILS = env.list("STAFF_ALERT_EMAILS", default=[])

# --- Payments ----------------------------------------------------------------
# Receipts (payments/receipts.py): who sells, as printed on every receipt, and the font for the PDF.
RECEIPT_SELLER_NAME = env("RECEIPT_SELLER_NAME", default=SITE_NAME)
RECEIPT_SELLER_ADDRESS = env.list("RECEIPT_SELLER_ADDRESS", default=[])
RECEIPT_SELLER_TAX_ID = env("RECEIPT_SELLER_TAX_ID", default="")
RECEIPT_FONT_DIR = env("RECEIPT_FONT_DIR", default="/usr/share/fonts/truetype/dejavu")
PLATFORM_FEE_BASIS_POINTS = env.int("PLATFORM_FEE_BASIS_POINTS", default=2000)  # 20 %
DEFAULT_CURRENCY = env("DEFAULT_CURRENCY", default="GBP")
STRIPE_SECRET_KEY = env("STRIPE_SECRET_KEY", default="")
STRIPE_WEBHOOK_SECRET = env("STRIPE_WEBHOOK_SECRET", default="")
STRIPE_API_BASE = env("STRIPE_API_BASE", default="")  # only for tests against a loopback server
PAYPAL_CLIENT_ID = env("PAYPAL_CLIENT_ID", default="")
PAYPAL_CLIENT_SECRET = env("PAYPAL_CLIENT_SECRET", default="")
PAYPAL_WEBHOOK_ID = env("PAYPAL_WEBHOOK_ID", default="")
PAYPAL_API_BASE = env("PAYPAL_API_BASE", default="https://api-m.sandbox.paypal.com")
# How long a call to Stripe or PayPal may take before we stop waiting (its outcome is then unknown:
# payments.tasks.settle_with_providers asks the provider what happened).
PAYMENT_PROVIDER_TIMEOUT_SECONDS = env.float("PAYMENT_PROVIDER_TIMEOUT_SECONDS", default=20.0)
# The built-in test provider can never run with DEBUG off.
# A webhook's common-case capture writes its rows in one statement on PostgreSQL (payments.services.
# fulfilment._capture_in_one_statement); off, every capture takes the ORM path (the tests compare both).
PAYMENTS_ONE_STATEMENT_CAPTURE = env.bool("PAYMENTS_ONE_STATEMENT_CAPTURE", default=True)
# A chat message's row and its thread's activity time are written in one statement on PostgreSQL
# (messaging.services._create_with_activity); off, the ORM's two (the tests compare both).
MESSAGING_ONE_STATEMENT_SEND = env.bool("MESSAGING_ONE_STATEMENT_SEND", default=True)
TEST_PAYMENTS_ENABLED = DEBUG and env.bool("TEST_PAYMENTS_ENABLED", default=True)
TEST_PAYMENTS_WEBHOOK_SECRET = env("TEST_PAYMENTS_WEBHOOK_SECRET", default="whsec_test_provider_" + SECRET_KEY[:16])

# --- Marketplace rules --------------------------------------------------------------
REQUEST_EXPIRY_HOURS = env.int("REQUEST_EXPIRY_HOURS", default=72)
REQUEST_REMINDER_HOURS_BEFORE = env.int("REQUEST_REMINDER_HOURS_BEFORE", default=12)
ORDER_AUTO_COMPLETE_DAYS = env.int("ORDER_AUTO_COMPLETE_DAYS", default=7)
ORDER_UNPAID_EXPIRY_DAYS = env.int("ORDER_UNPAID_EXPIRY_DAYS", default=7)
# Disputes hear both sides: the side that did not open it has this long for its statement, then the
# opener this long to answer it; a reminder goes out this many hours before each deadline.
DISPUTE_STATEMENT_DAYS = env.int("DISPUTE_STATEMENT_DAYS", default=3)
DISPUTE_ANSWER_DAYS = env.int("DISPUTE_ANSWER_DAYS", default=2)
DISPUTE_REMINDER_HOURS_BEFORE = env.int("DISPUTE_REMINDER_HOURS_BEFORE", default=24)
THREAD_READ_ONLY_AFTER_DAYS = env.int("THREAD_READ_ONLY_AFTER_DAYS", default=30)
CHAT_EMAIL_DIGEST_MINUTES = env.int("CHAT_EMAIL_DIGEST_MINUTES", default=15)
# The signed unsubscribe link in every notification email works this long after the email was sent.
NOTIFICATION_UNSUBSCRIBE_DAYS = env.int("NOTIFICATION_UNSUBSCRIBE_DAYS", default=90)

# --- Security -------------------------------------------------------------------
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "strict-origin-when-cross-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False
if not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_REDIRECT_EXEMPT = [r"^health$", r"^ready$"]
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'", "ws:", "wss:"] if DEBUG else ["'self'", "wss:"],
        "frame-src": ["'self'"],
        "frame-ancestors": ["'none'"],
        "form-action": [
            "'self'",
            "https://checkout.stripe.com",
            "https://www.paypal.com",
            "https://www.sandbox.paypal.com",
        ],
        "base-uri": ["'self'"],
        "object-src": ["'none'"],
    }
}

# --- Logging: one line per event, JSON in production, with the request id -----------
LOG_FORMAT = env("LOG_FORMAT", default="text" if DEBUG else "json")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "request_id": {"()": "core.http.RequestIdLogFilter"},
        # Emails, card-like numbers and tokens an exception or a visitor's input may bring in are masked.
        "personal_data": {"()": "ops.sentry.PersonalDataLogFilter"},
    },
    "formatters": {
        "text": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(request_id)s %(message)s",
            "json_encoder": "ext://ops.sentry.ScrubbingJsonEncoder",
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["request_id", "personal_data"],
        },
    },
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    "loggers": {
        # Django's own loggers print through its DEBUG-only handler by default; send them to ours instead,
        # so that production output is one format (JSON) only.
        "django": {"handlers": [], "level": "INFO", "propagate": True},
        "django.server": {"handlers": [], "level": "INFO", "propagate": True},
        "django.db.backends": {"level": "WARNING"},
    },
}

# --- Metrics (ops): who may scrape /metrics; everyone else gets a 404 ----------------------------
# A bearer token Prometheus sends (authorization: credentials), and/or the scrapers' networks (the
# address is core.http.client_ip's). Both empty: /metrics answers 404 to everyone.
METRICS_TOKEN = env("METRICS_TOKEN", default="")
METRICS_ALLOWED_IPS = env.list("METRICS_ALLOWED_IPS", default=[])

SENTRY_DSN = env("SENTRY_DSN", default="")
SENTRY_ENVIRONMENT = env("SENTRY_ENVIRONMENT", default="development" if DEBUG else "production")
SENTRY_RELEASE = env("SENTRY_RELEASE", default="")
if SENTRY_DSN:
    # Web, ws (elite.asgi wraps it) and Celery; personal data scrubbed by ops.sentry.before_send.
    from ops.sentry import init as init_sentry

    init_sentry(SENTRY_DSN, release=SENTRY_RELEASE, environment=SENTRY_ENVIRONMENT)

# --- Requests and orders (requests_app, orders): limits and background jobs -----------------
# New requests one client may send per hour (shared cache, so it holds across web machines).
REQUEST_RATE_LIMIT_PER_HOUR = env.int("REQUEST_RATE_LIMIT_PER_HOUR", default=20)
# How many matching coaches are told about a new open request (best rated first).
OPEN_REQUEST_NOTIFY_MAX = env.int("OPEN_REQUEST_NOTIFY_MAX", default=50)
# How often the marketplace jobs run (minutes); each job is idempotent.
MARKETPLACE_JOBS_EVERY_MINUTES = env.int("MARKETPLACE_JOBS_EVERY_MINUTES", default=15)
CELERY_BEAT_SCHEDULE.update(
    {
        "requests-expire": {
            "task": "requests_app.tasks.expire_requests",
            "schedule": MARKETPLACE_JOBS_EVERY_MINUTES * 60,
        },
        "requests-remind-coaches": {
            "task": "requests_app.tasks.send_expiry_reminders",
            "schedule": MARKETPLACE_JOBS_EVERY_MINUTES * 60,
        },
        "orders-auto-complete": {
            "task": "orders.tasks.auto_complete_silent_deliveries",
            "schedule": MARKETPLACE_JOBS_EVERY_MINUTES * 60,
        },
        "orders-escalate-overdue": {
            "task": "orders.tasks.escalate_overdue_orders",
            "schedule": MARKETPLACE_JOBS_EVERY_MINUTES * 60,
        },
        "orders-cancel-unpaid": {
            "task": "orders.tasks.cancel_unpaid_orders",
            "schedule": MARKETPLACE_JOBS_EVERY_MINUTES * 60,
        },
        "orders-dispute-deadlines": {
            "task": "orders.tasks.chase_dispute_statements",
            "schedule": MARKETPLACE_JOBS_EVERY_MINUTES * 60,
        },
    }
)

# --- Messaging (messaging): chat limits and the email digest job ----------------------------
# Longest message body in characters.
CHAT_MAX_MESSAGE_LENGTH = env.int("CHAT_MAX_MESSAGE_LENGTH", default=4000)
# Messages one user may send per window (shared cache, so it holds across web and ASGI machines).
CHAT_RATE_LIMIT_COUNT = env.int("CHAT_RATE_LIMIT_COUNT", default=20)
CHAT_RATE_LIMIT_WINDOW_SECONDS = env.int("CHAT_RATE_LIMIT_WINDOW_SECONDS", default=60)
# Database threads per ASGI process for the chat consumers (PostgreSQL; SQLite always uses one).
CHAT_DB_THREADS = env.int("CHAT_DB_THREADS", default=4)
CELERY_BEAT_SCHEDULE["messaging-chat-digests"] = {"task": "messaging.tasks.send_chat_digests", "schedule": 60}

# --- Documents (documents): reading CVs and deliveries, redlines, comments, job match ---------
# Extraction limits: longer, larger or slower files are recorded as unreadable with a clear message.
DOCUMENTS_MAX_PAGES = env.int("DOCUMENTS_MAX_PAGES", default=40)
DOCUMENTS_MAX_CHARS = env.int("DOCUMENTS_MAX_CHARS", default=200_000)
DOCUMENTS_MAX_BYTES = env.int("DOCUMENTS_MAX_BYTES", default=FILE_UPLOAD_MAX_BYTES)
DOCUMENTS_MAX_UNZIPPED_BYTES = env.int("DOCUMENTS_MAX_UNZIPPED_BYTES", default=50 * 1024 * 1024)
DOCUMENTS_EXTRACT_SECONDS = env.int("DOCUMENTS_EXTRACT_SECONDS", default=20)
# Target job descriptions: longest text in characters, and how many one order may hold.
DOCUMENTS_JOB_MAX_CHARS = env.int("DOCUMENTS_JOB_MAX_CHARS", default=20_000)
DOCUMENTS_MAX_JOBS = env.int("DOCUMENTS_MAX_JOBS", default=5)
# Days after an order completes (or is cancelled) before its files, texts, comments and jobs are deleted.
DOCUMENTS_RETENTION_DAYS = env.int("DOCUMENTS_RETENTION_DAYS", default=180)
CELERY_BEAT_SCHEDULE["documents-purge-expired"] = {"task": "documents.tasks.purge_expired", "schedule": 24 * 3600}
# The client and coach are told this many days before (never less), once per order.
DOCUMENTS_RETENTION_WARNING_DAYS = env.int("DOCUMENTS_RETENTION_WARNING_DAYS", default=14)
CELERY_BEAT_SCHEDULE["documents-warn-before-purge"] = {
    "task": "documents.tasks.warn_before_purge",
    "schedule": 24 * 3600,
}

# --- Coaches (coach directory) ------------------------------------------------------
# Seconds a rendered directory result (count + page of cards) is reused for the same filters.
# Also the matching ids of a search and coach pages. Profile, service, account, photo and review
# changes invalidate them at once (bulk .update()s show within this delay). 0 = off.
COACH_DIRECTORY_CACHE_SECONDS = env.int("COACH_DIRECTORY_CACHE_SECONDS", default=60)

# --- payments: nightly ledger reconciliation (alerts staff on any mismatch) ----------
CELERY_BEAT_SCHEDULE["payments-settle-with-providers"] = {
    "task": "payments.tasks.settle_with_providers",
    "schedule": 5 * 60,
}
CELERY_BEAT_SCHEDULE["payments-reconcile-ledger"] = {
    "task": "payments.tasks.reconcile_ledger",
    "schedule": env.int("LEDGER_RECONCILE_INTERVAL_SECONDS", default=24 * 60 * 60),
}

# --- REST API v1 (/api/v1/, issue 14): tokens, errors, pagination, OpenAPI ---------------------
# Access tokens are short JWTs (HS256, signed with API_JWT_SIGNING_KEY); refresh tokens are opaque random
# strings stored hashed (accounts.ApiRefreshToken), rotated on every use, with reuse detection.
API_ACCESS_TOKEN_MINUTES = env.int("API_ACCESS_TOKEN_MINUTES", default=15)
API_REFRESH_TOKEN_DAYS = env.int("API_REFRESH_TOKEN_DAYS", default=14)
if not 7 <= API_REFRESH_TOKEN_DAYS <= 30:
    raise ImproperlyConfigured("API_REFRESH_TOKEN_DAYS must be between 7 and 30.")
API_JWT_SIGNING_KEY = env("API_JWT_SIGNING_KEY", default=SECRET_KEY)
# Browser clients may keep both tokens in HTTP-only cookies instead (then CSRF applies to unsafe methods).
API_ACCESS_COOKIE = "ews_access"
API_REFRESH_COOKIE = "ews_refresh"
API_COOKIE_SECURE = env.bool("API_COOKIE_SECURE", default=True)
# A JSON body above this answers 413 (uploads go through files/upload, which has its own limit).
API_MAX_JSON_BYTES = env.int("API_MAX_JSON_BYTES", default=256 * 1024)
API_PAGE_SIZE = 20
API_MAX_PAGE_SIZE = 100
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.api.authentication.BearerAuthentication",
        "accounts.api.authentication.CookieAuthentication",
        "accounts.api.authentication.ApiSessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": ["core.api.LimitedJSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PAGINATION_CLASS": "core.api.Cursor",
    "DEFAULT_SCHEMA_CLASS": "core.api_schema.ApiSchema",
    "DEFAULT_FILTER_BACKENDS": [],
    "EXCEPTION_HANDLER": "core.api.exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": datetime.timedelta(minutes=API_ACCESS_TOKEN_MINUTES),
    "ALGORITHM": "HS256",
    "SIGNING_KEY": API_JWT_SIGNING_KEY,
    "AUTH_HEADER_TYPES": ("Bearer",),
    "USER_ID_FIELD": "id",
    "USER_ID_CLAIM": "sub",
    "UPDATE_LAST_LOGIN": False,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Elite Writing Services API",
    "DESCRIPTION": "REST API v1: the same services and access rules as the web pages. See docs/api.md.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # Our PATCH bodies are not partial copies of a resource: orders/{id}/status needs `transition`, a
    # suspension its `reason`. Document each body as its serializer says (optional fields stay optional).
    "COMPONENT_SPLIT_PATCH": False,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    # Enum components (drf-spectacular's default hook), then the links between operations (elite/api_links.py).
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums", "elite.api_links.add_links"],
    "ENUM_NAME_OVERRIDES": {
        "ServiceTypeEnum": "coaches.models.ServiceType",
        "OrderStatusEnum": "orders.models.OrderStatus",
        "RequestStatusEnum": "requests_app.models.RequestStatus",
        "RoleEnum": "accounts.models.Role",
        "SignupRoleEnum": ["client", "coach"],
    },
}
