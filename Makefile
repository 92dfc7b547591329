# Reminder Journeys. The README's quick start is `make dev` and `make test`.
#
#   make dev     the embedded stack (Temporal dev server + UI, worker, API) with the demo
#   make test    the whole suite twice: store on SQLite, then on PostgreSQL
#   make lint    ruff (format and lint) and mypy --strict
#
# The virtualenv is rebuilt only when pyproject.toml changes, so repeated runs are fast.

PYTHON   ?= python3
VENV     ?= .venv
BIN      := $(VENV)/bin
STAMP    := $(VENV)/.installed
DEV_ARGS ?= --demo
TEST_DBS ?= sqlite postgres
PYTEST_ARGS ?=

CHROMIUM ?= /usr/bin/chromium

.PHONY: venv dev test lint browser

venv: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
		|| { echo "Python 3.11 or newer is needed as '$(PYTHON)' (make PYTHON=python3.12 ...)"; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

dev: venv
	$(BIN)/journeys dev $(DEV_ARGS)

# The browser tests (tests/browser/) drive Debian's Chromium through the `playwright` package;
# no browser is downloaded. On a fresh Debian machine (CI runs as root) it is installed here;
# elsewhere, install a Chromium and point JOURNEYS_CHROMIUM at it, or the browser tests skip.
browser:
	@if [ ! -x "$(CHROMIUM)" ]; then \
		if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
			echo "== installing Debian's chromium for the browser tests"; \
			DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium \
				|| { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium; }; \
		else \
			echo "== no $(CHROMIUM) and no root apt-get: the browser tests will be skipped"; \
		fi; \
	fi

# Each store gets its own pytest run; `set -e` stops at the first failing one, and pytest's
# own non-zero statuses (1 failures, 5 no tests collected, ...) fail the target as they are.
# The browser tests run in the SQLite run only (they skip themselves on PostgreSQL).
test: venv browser
	@set -e; for db in $(TEST_DBS); do \
		echo "== tests with the store on $$db"; \
		JOURNEYS_TEST_DB=$$db JOURNEYS_CHROMIUM=$(CHROMIUM) $(BIN)/pytest $(PYTEST_ARGS); \
	done

lint: venv
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy .
