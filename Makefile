# The README's two commands are `make run` and `make test`; both work on a fresh machine with
# only python3 (they create .venv themselves).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# `make run PORT=8010 HOST=0.0.0.0`
PORT ?= 8000
HOST ?= 127.0.0.1

.PHONY: run test test-unit test-fast check lint typecheck pytest bench bench-sip screenshots clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/dialgate db upgrade
	$(BIN)/dialgate demo
	$(BIN)/dialgate serve --with-worker --host $(HOST) --port $(PORT)

check: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy src

test: check
	$(BIN)/pytest -q

# Quicker loops while working: the pure domain and service tests only, or everything but the
# tests that start Kamailio or a browser (tests/e2e is marked e2e by tests/conftest.py).
test-unit: $(STAMP)
	$(BIN)/pytest -q tests/unit

test-fast: check
	$(BIN)/pytest -q -m "not e2e"

bench: $(STAMP)
	$(BIN)/python benchmarks/authorize.py

bench-sip: $(STAMP)
	$(BIN)/python benchmarks/sip_load.py

# The portal's browser tests save every page under var/screenshots/; the README shows some of
# them in English, French and Spanish.
screenshots: $(STAMP)
	$(BIN)/pytest -q tests/e2e/portal
	mkdir -p docs
	cp var/screenshots/settings-restrictions.png docs/account-settings.png
	cp var/screenshots/settings-restrictions-fr.png docs/account-settings-fr.png
	cp var/screenshots/settings-restrictions-es.png docs/account-settings-es.png
	cp var/screenshots/test-number-denied.png docs/test-a-number.png
	cp var/screenshots/test-number-fr.png docs/test-a-number-fr.png
	cp var/screenshots/subaccount-edit.png docs/subaccount.png

clean:
	rm -rf $(VENV) var .mypy_cache .ruff_cache .pytest_cache
