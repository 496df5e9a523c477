"""WSGI entry point: gunicorn serves every page in production (see DESIGN.md §2)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "elite.settings")

application = get_wsgi_application()
