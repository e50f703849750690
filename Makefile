# meraki-incidents: `make run` sets up and starts everything; `make test` runs the tests.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PYTEST_ARGS ?=
RUN_ADDRESS ?= 127.0.0.1:8000

.PHONY: install run test lint format migrate clean

$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed

migrate: install
	$(BIN)/python manage.py migrate --noinput

# The demo: the built-in simulator serves Meraki, Threat Response and Webex; syncs every 2 minutes.
run: export SIMULATOR_ENABLED ?= true
run: export EXTRA_ALLOWED_API_HOSTS ?= 127.0.0.1,localhost
run: export SYNC_INTERVAL ?= 2m
run: export RUN_ADDRESS := $(RUN_ADDRESS)
run: export SITE_URL ?= http://$(RUN_ADDRESS)
run: export XDR_INCIDENT_URL_TEMPLATE ?= http://$(RUN_ADDRESS)/simulator/
run: migrate
	$(BIN)/python manage.py ensure_admin
	$(BIN)/python manage.py demo_setup --base-url http://$(RUN_ADDRESS)
	exec scripts/run-dev

test: install
	$(BIN)/pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache
