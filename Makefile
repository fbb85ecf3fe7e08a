# Two commands for a newcomer: `make run` starts the bot (the terminal console when no Slack
# tokens are configured), `make test` runs format, lint, type checks and the whole test suite.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: run test check lint typecheck pytest bench eval install clean

$(BIN)/smtpbot: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	@touch $@

install: $(BIN)/smtpbot

run: install
	$(BIN)/smtpbot run

test: install lint typecheck pytest

lint: install
	$(BIN)/ruff format --check bot knowledge tests bench
	$(BIN)/ruff check bot knowledge tests bench
	$(BIN)/smtpbot kb lint

typecheck: install
	$(BIN)/mypy

pytest: install
	$(BIN)/pytest -q

eval: install
	$(BIN)/python bench/eval.py

bench: install
	$(BIN)/python bench/match_bench.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
