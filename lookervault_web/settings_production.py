"""Production settings: everything from the environment, HTTPS enforced, no insecure defaults.

Use with DJANGO_SETTINGS_MODULE=lookervault_web.settings_production; SECRET_KEY and
LOOKERVAULT_ENCRYPTION_KEY must be set.
"""

from __future__ import annotations

import os

from lookervault_web.settings import *  # noqa: F403
from lookervault_web.settings import envbool, envint

if not os.getenv("SECRET_KEY"):
    raise RuntimeError("SECRET_KEY must be set for production settings")
SECRET_KEY = os.environ["SECRET_KEY"]
# The destinations' API secrets are encrypted with their own key: derived from SECRET_KEY, a
# rotated SECRET_KEY would make every stored secret unreadable, and a leaked one would open them.
if not os.getenv("LOOKERVAULT_ENCRYPTION_KEY"):
    raise RuntimeError("LOOKERVAULT_ENCRYPTION_KEY must be set for production settings")
LOOKERVAULT_ENCRYPTION_KEY = os.environ["LOOKERVAULT_ENCRYPTION_KEY"]
DEBUG = False

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = envbool("SECURE_SSL_REDIRECT", "true")
SECURE_HSTS_SECONDS = envint("SECURE_HSTS_SECONDS", "31536000")
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = False
