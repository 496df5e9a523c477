# Two commands a newcomer needs: `make run` and `make test`. Every target is idempotent.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
PORT ?= 8000

.PHONY: run test lint format check install install-dev assets migrate seed bench clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip 2>&1 | grep -v "is ignored: it is neither" || true

$(VENV)/.installed: requirements.txt $(PY)
	$(PIP) install --quiet -r requirements.txt 2>&1 | grep -v "is ignored: it is neither" || true
	$(PY) -c "import django, channels, celery, allauth" && touch $@

$(VENV)/.installed-dev: requirements-dev.txt requirements.txt $(VENV)/.installed
	$(PIP) install --quiet -r requirements-dev.txt 2>&1 | grep -v "is ignored: it is neither" || true
	$(PY) -c "import pytest, playwright, moto, xdist" && touch $@

# `npm ci` empties node_modules before it installs; when node_modules is a link to another checkout's install
# (a git worktree sharing the main checkout's), that would empty the other checkout's too, so it is left alone.
node_modules/.package-lock.json: package.json package-lock.json
	@if [ -L node_modules ]; then \
		echo "node_modules links to $$(readlink node_modules): not reinstalling through the link"; \
		touch node_modules/.package-lock.json; \
	else \
		npm ci --no-audit --no-fund; \
	fi

install: $(VENV)/.installed node_modules/.package-lock.json
install-dev: $(VENV)/.installed-dev node_modules/.package-lock.json
assets: node_modules/.package-lock.json

migrate: install
	$(PY) manage.py migrate --noinput

seed: migrate
	$(PY) manage.py seed_demo

# Serves pages and websockets in one ASGI process (Daphne's runserver) on the embedded default.
# SITE_URL (the base of links in emails and payment return URLs) follows PORT unless the environment or .env
# sets it.
run: seed
	env $$([ -n "$$SITE_URL" ] || grep -qs '^SITE_URL=' .env || echo SITE_URL=http://127.0.0.1:$(PORT)) \
		$(PY) manage.py runserver 127.0.0.1:$(PORT)

# The suite runs in parallel (pytest-xdist): one worker process per CPU the machine lets us use ("logical":
# 2 on CI, 1 on a 1-CPU machine), each with its own test database and cache key prefix (conftest.py).
# TEST_WORKERS=3 picks a count, TEST_WORKERS=0 runs serially in this process. Plain `pytest` stays serial.
TEST_WORKERS ?= logical
test: install-dev
	$(PY) -m pytest -n $(TEST_WORKERS) $(PYTEST_ARGS)

lint: install-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy .

format: install-dev
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

# Migrations match the models, and the production settings pass Django's deployment checks.
check: install
	$(PY) manage.py makemigrations --check --dry-run
	DEBUG=false SECRET_KEY=check-deploy-only-$$(printf 'x%.0s' $$(seq 1 60)) ALLOWED_HOSTS=elite.example \
		CLAMD_URL=tcp://127.0.0.1:3310 $(PY) manage.py check --deploy --fail-level WARNING

bench: install-dev
	$(PY) bench/marketplace.py
	$(PY) bench/metrics_overhead.py
	$(PY) bench/documents.py
	$(PY) bench/chat.py

clean:
	rm -rf $(VENV) node_modules staticfiles artifacts
