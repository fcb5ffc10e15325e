# The two commands: `make run` (the demo) and `make test` (the whole suite).
PY ?= python3
VENV ?= .venv
BIN = $(VENV)/bin

.PHONY: run stop serve test typecheck install lint bench clean

$(BIN)/.installed: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

install: $(BIN)/.installed

# `make run PORT=8080 JIRA_PORT=9001 TRELLO_PORT=9002`: the demo's dashboard/API port (default
# 8000) and the simulated tools' (default any free port); `make stop` stops a demo running in the
# background. `make serve PORT=…` passes the port to `taskhub serve` (else TASKHUB_PORT, 8000).
PORT ?=
JIRA_PORT ?= 0
TRELLO_PORT ?= 0

run: install
	$(BIN)/taskhub demo --port $(or $(PORT),8000) --jira-port $(JIRA_PORT) --trello-port $(TRELLO_PORT)

stop:
	@test -f .taskhub-demo/demo.pid || { echo "no demo running here (.taskhub-demo/demo.pid)"; exit 1; }
	kill $$(cat .taskhub-demo/demo.pid)

serve: install
	$(BIN)/taskhub serve $(if $(PORT),--port $(PORT))

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
	rm -rf $(VENV) .taskhub .taskhub-demo
