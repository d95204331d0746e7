# Two commands on a fresh machine:
#   make demo   install everything, start the embedded database, index a sample, serve the site
#   make test   install everything (test tools and browser too) and run the whole test suite
#
# VENV may point outside the clone (CI keeps one keyed by the requirement files' hash).
VENV ?= .venv
PYTHON ?= python3
PY := $(VENV)/bin/python
REQUIREMENTS := requirements/base.txt requirements/dev.txt
# The install is stamped with the requirement files' hash, not compared by file times: a
# fresh clone's files are always newer than a cached venv's stamp, so a time-based stamp
# reinstalled on every CI run. Same requirements, same stamp: nothing to do.
REQUIREMENTS_HASH := $(shell cat $(REQUIREMENTS) | sha256sum | cut -c1-16)
INSTALLED := $(VENV)/.installed-$(REQUIREMENTS_HASH)
# Redis for Celery in tests; started here if nothing answers on this port.
REDIS_PORT ?= 6379
HOST ?= 127.0.0.1
# apt-get needs root: run as root (CI) or with SUDO=sudo.
SUDO ?= $(shell [ "$$(id -u)" = 0 ] || echo sudo)
PORT ?= 8000

.PHONY: install demo screenshot test lint docs redis services browser nginx gettext stop-db clean

$(INSTALLED):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip wheel "setuptools<81"
	$(PY) -m pip install --quiet -r requirements/dev.txt
	@# Old stamps go: going back to earlier requirements must install them again.
	rm -f $(VENV)/.installed $(VENV)/.installed-*
	touch $@

install: $(INSTALLED)

# The Celery tests need a Redis server: Debian's redis-server (with redis-cli), installed when missing.
redis:
	@{ command -v redis-server && command -v redis-cli; } >/dev/null 2>&1 || { \
		echo "Installing Debian's redis-server for the Celery tests"; \
		$(SUDO) apt-get update -q && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q redis-server; }

services: redis
	@if ! (command -v redis-cli >/dev/null && redis-cli -p $(REDIS_PORT) ping >/dev/null 2>&1); then \
		echo "Starting redis-server on port $(REDIS_PORT)"; \
		redis-server --daemonize yes --bind 127.0.0.1 --port $(REDIS_PORT) --save "" --appendonly no; \
	fi

# The browser tests drive Debian's chromium (Playwright's own browser download is not used).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
		echo "Installing Debian's chromium for the browser tests"; \
		$(SUDO) apt-get update -q && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q chromium; }

# The deployment tests run Debian's nginx in front of gunicorn (docker/nginx/), on loopback.
nginx:
	@command -v nginx >/dev/null 2>&1 || { \
		echo "Installing Debian's nginx-light for the deployment tests"; \
		$(SUDO) apt-get update -q && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q nginx-light; }

# The translation test runs makemessages and msgfmt (GNU gettext) over the sources; the site itself
# reads the committed locale/*/LC_MESSAGES/django.mo and needs no gettext.
gettext:
	@command -v msgfmt >/dev/null 2>&1 && command -v xgettext >/dev/null 2>&1 || { \
		echo "Installing Debian's gettext for the translation test"; \
		$(SUDO) apt-get update -q && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q gettext; }

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

test: install services browser nginx gettext lint
	DEBUG=true $(PY) manage.py migrate --noinput -v0
	$(PY) -m pytest

# Each phase prints its time: the install here, the rest in manage.py demo.
demo:
	@started=$$(date +%s); $(MAKE) --no-print-directory install && \
		echo "[demo] install: ready in $$(( $$(date +%s) - started )) s"
	$(PY) manage.py demo --host $(HOST) --port $(PORT)

# The README's picture, from the demo (its data and models, the same environment variables),
# in Debian's chromium: docs/images/search-results.png.
screenshot: install browser
	$(PY) manage.py screenshot

# The guide in docs/ as a static site in site/; --strict: a broken link or anchor fails it.
docs: install
	$(VENV)/bin/mkdocs build --strict

stop-db:
	DEBUG=true $(PY) manage.py embedded_db stop

clean:
	rm -rf $(VENV) var
