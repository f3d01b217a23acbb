# The README's two commands are `make run` and `make test`; both work on a fresh machine with
# only python3 (they create .venv themselves).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# `make run PORT=8010 HOST=0.0.0.0`
PORT ?= 8000
HOST ?= 127.0.0.1

.PHONY: run test check lint typecheck pytest bench bench-sip screenshots clean

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

bench: $(STAMP)
	$(BIN)/python benchmarks/authorize.py

bench-sip: $(STAMP)
	$(BIN)/python benchmarks/sip_load.py

# The portal's browser tests save every tab under var/screenshots/; the README shows one of them.
screenshots: $(STAMP)
	$(BIN)/pytest -q tests/e2e/portal
	mkdir -p docs
	cp var/screenshots/settings-restrictions.png docs/account-settings.png

clean:
	rm -rf $(VENV) var .mypy_cache .ruff_cache .pytest_cache
