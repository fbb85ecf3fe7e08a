# Two commands for a newcomer: `make run` starts the bot (the terminal console when no Slack
# tokens are configured), `make test` runs format, lint, type checks and the whole test suite.
# Every install comes from the committed uv.lock; `make lock` relocks to the newest allowed
# versions (then `make test` gates committing the new lock).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# uv installs into $(VENV) and never downloads a Python of its own.
export UV_PROJECT_ENVIRONMENT := $(abspath $(VENV))
export UV_PYTHON_DOWNLOADS := never

.PHONY: run test check lint typecheck pytest peers bench eval install lock clean

# The installer, bootstrapped hash-pinned from the uv release uv.lock itself locks.
$(BIN)/uv:
	$(PYTHON) -m venv $(VENV)
	$(PYTHON) deploy/uvpin.py > $(VENV)/uv-pin.txt
	$(BIN)/python -m pip install --quiet --no-deps --require-hashes -r $(VENV)/uv-pin.txt

# Exactly the locked set; stops (never resolves anew) when pyproject.toml and uv.lock disagree.
$(VENV)/.synced: $(BIN)/uv pyproject.toml uv.lock
	@$(BIN)/uv sync --quiet --locked --extra dev --python $(BIN)/python || { \
	  echo "make: uv.lock does not match pyproject.toml (or could not be installed)." >&2; \
	  echo "      Relock with 'make lock' (newest allowed versions) or '$(BIN)/uv lock'" >&2; \
	  echo "      (smallest change), run 'make test', and commit pyproject.toml with uv.lock." >&2; \
	  exit 1; }
	@touch $@

install: $(VENV)/.synced

lock: $(BIN)/uv
	$(BIN)/uv lock --upgrade
	npm install --prefix $(PEERS) --package-lock-only --no-audit --no-fund --loglevel=error
	@echo "Relocked to the newest versions pyproject.toml allows: run 'make test', then commit uv.lock."

run: install
	$(BIN)/smtpbot run

test: install lint typecheck pytest

lint: install
	$(BIN)/ruff format --check bot knowledge tests bench deploy
	$(BIN)/ruff check bot knowledge tests bench deploy
	$(BIN)/smtpbot kb lint

typecheck: install
	$(BIN)/mypy

pytest: install peers
	$(BIN)/pytest -q

# Real mail servers from npm that the probe tests run on loopback, exactly as locked.
PEERS := tests/peers
peers: $(PEERS)/node_modules/.package-lock.json

$(PEERS)/node_modules/.package-lock.json: $(PEERS)/package.json $(PEERS)/package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
	  npm ci --prefix $(PEERS) --no-audit --no-fund --loglevel=error; \
	else \
	  echo "make: npm not found: the smtp-server probe tests need Node.js and npm" >&2; \
	  echo "      (apt-get install nodejs npm); without them those tests are skipped." >&2; \
	fi

eval: install
	$(BIN)/python bench/eval.py

bench: install
	$(BIN)/python bench/match_bench.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache $(PEERS)/node_modules
