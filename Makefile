# The two commands: `make run` (the demo) and `make test` (the whole suite).
PY ?= python3
VENV ?= .venv
BIN = $(VENV)/bin

.PHONY: run serve test install lint bench clean

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

test: install
	$(BIN)/python -m pytest -q -p no:cacheprovider -n $(TEST_WORKERS) --dist loadgroup $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check service connectors mappings sandbox tests bench
	$(BIN)/mypy service connectors mappings

clean:
	rm -rf $(VENV) .taskhub
