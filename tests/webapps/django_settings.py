"""Settings of the test Django project (used in process with
settings.configure, and by the runserver subprocess)."""

import os

SECRET_KEY = "stroboscope-tests-only"
DEBUG = os.environ.get("STROBO_TEST_DEBUG") == "1"
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"]
ROOT_URLCONF = "webapps.django_urls"
INSTALLED_APPS = []
DATABASES = {}
USE_TZ = True
MIDDLEWARE = [
    "stroboscope.middleware.django.ProfilerMiddleware",
    "django.middleware.common.CommonMiddleware",
]
LOGGING_CONFIG = None
STROBOSCOPE_SHOW_CALLBACK = os.environ.get("STROBO_TEST_SHOW_CALLBACK") or None
STROBOSCOPE_PROFILE_DIR = os.environ.get("STROBO_TEST_PROFILE_DIR") or None


def as_dict():
    return {name: value for name, value in globals().items() if name.isupper()}
