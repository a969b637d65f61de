# The two commands a newcomer needs: `make run` and `make test`. Both install what they need.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
POSTGRES_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test

.PHONY: run test test-sqlite test-postgres lint format bench screenshot clean

run: $(VENV)/.runtime  ## the product: a local Slack workspace unless Slack tokens are set
	$(BIN)/python app.py

test: lint test-sqlite test-postgres  ## lint, then the whole suite on SQLite and on PostgreSQL

test-sqlite: $(VENV)/.dev
	TEST_DATABASE=sqlite $(BIN)/pytest

test-postgres: $(VENV)/.dev
	TEST_DATABASE=postgresql TEST_POSTGRES_URL=$(POSTGRES_URL) $(BIN)/pytest

lint: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(VENV)/.dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

screenshot: $(VENV)/.dev  ## the README's picture of the local workspace, by the browser test
	README_SCREENSHOT=docs/local-workspace.png TEST_DATABASE=sqlite $(BIN)/pytest -q tests/test_browser.py -k readme_picture

bench: $(VENV)/.dev  ## every benchmark (30-60 min) into bench/RESULTS.md; ARGS=--quick: minutes
	$(BIN)/python bench/run_all.py --postgres $(POSTGRES_URL) $(ARGS)

$(VENV)/.runtime: requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $@ $(VENV)/.runtime

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache
