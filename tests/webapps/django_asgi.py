"""The test Django project as an ASGI application, for
``python -m uvicorn webapps.django_asgi:application``."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webapps.django_settings")

application = get_asgi_application()
