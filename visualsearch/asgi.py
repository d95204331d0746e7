import os

from django.core.asgi import get_asgi_application

# Unless named: development when DEBUG is true, else production (visualsearch/settings/__init__.py).
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "visualsearch.settings")
application = get_asgi_application()
