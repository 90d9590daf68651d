# Flowdesk: `make run` starts the demo, `make test` runs every test. Both install what they need.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
NPM_STAMP := node_modules/.flowdesk-installed
PG_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test

.PHONY: install run test lint typecheck unit bench clean

install: $(STAMP) $(NPM_STAMP)

# Re-install only when the dependency list changes; the project itself is installed editable.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

run: install
	$(BIN)/flowdesk serve --demo

lint: install
	$(BIN)/ruff check engine handlers webui tests bench

typecheck: install
	$(BIN)/mypy

# Tests run on SQLite always and on PostgreSQL when the server answers (CI starts it first).
test: install lint typecheck chromium
	@if $(BIN)/python -c "import psycopg,sys; psycopg.connect('$(subst +psycopg,,$(PG_URL))', connect_timeout=3).close()" 2>/dev/null; then \
		echo "PostgreSQL answers at $(PG_URL): tests run on SQLite and PostgreSQL"; \
		export FLOWDESK_TEST_POSTGRES_URL='$(PG_URL)'; \
	else \
		echo "PostgreSQL does not answer at $(PG_URL): PostgreSQL tests are skipped"; \
	fi; \
	$(BIN)/pytest -q $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no test: failing on purpose"; exit 1; fi; \
	exit $$rc

bench: install
	$(BIN)/python -m bench.run

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache

# bpmn-js, htmx and Pico CSS for the pages, from the npm registry; again only when the lock changes.
$(NPM_STAMP): package-lock.json
	npm ci --no-audit --no-fund --silent
	touch $(NPM_STAMP)

# The browser tests drive Debian's Chromium (Playwright's own browser download cannot work here).
.PHONY: chromium
chromium:
	@test -x /usr/bin/chromium || (apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium)
