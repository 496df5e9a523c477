"""WSGI entry point: gunicorn serves every page in production (see DESIGN.md §2).

Webhook deliveries take a shorter middleware chain than pages (elite/handlers.py).
"""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "elite.settings")

from elite.handlers import get_wsgi_application

application = get_wsgi_application()
