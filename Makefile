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

.PHONY: venv dev test lint

venv: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
		|| { echo "Python 3.11 or newer is needed as '$(PYTHON)' (make PYTHON=python3.12 ...)"; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

dev: venv
	$(BIN)/journeys dev $(DEV_ARGS)

# Each store gets its own pytest run; `set -e` stops at the first failing one, and pytest's
# own non-zero statuses (1 failures, 5 no tests collected, ...) fail the target as they are.
test: venv
	@set -e; for db in $(TEST_DBS); do \
		echo "== tests with the store on $$db"; \
		JOURNEYS_TEST_DB=$$db $(BIN)/pytest $(PYTEST_ARGS); \
	done

lint: venv
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy .
