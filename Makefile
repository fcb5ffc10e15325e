# The two commands: `make run` (the demo) and `make test` (the whole suite).
PY ?= python3
VENV ?= .venv
BIN = $(VENV)/bin

.PHONY: run serve test typecheck install lint bench clean

$(BIN)/.installed: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

install: $(BIN)/.installed

run: install
	$(BIN)/taskhub demo

serve: install
	$(BIN)/taskhub serve

# The suite runs on TEST_WORKERS pytest-xdist processes (2: the machine's two cores; `make test
# TEST_WORKERS=0` runs it in one process). loadgroup keeps the tests marked xdist_group together.
TEST_WORKERS ?= 2

# mypy first (config in pyproject.toml): any error fails `make test` before a test runs.
typecheck: install
	$(BIN)/mypy service connectors mappings

test: install typecheck
	$(BIN)/python -m pytest -q -p no:cacheprovider -n $(TEST_WORKERS) --dist loadgroup $(PYTEST_ARGS)

lint: install typecheck
	$(BIN)/ruff check service connectors mappings sandbox tests bench

clean:
	rm -rf $(VENV) .taskhub
