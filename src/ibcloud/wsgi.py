"""WSGI entry point (gunicorn ``ibcloud.wsgi`` or waitress via ``ibcloud serve``)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ibcloud.settings")
application = get_wsgi_application()
