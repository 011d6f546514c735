# The one front door. `make help` lists the targets.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PYPROJECTS := $(wildcard libs/*/pyproject.toml services/*/pyproject.toml tools/*/pyproject.toml)
# The services' Python packages (not their .egg-info folders).
SERVICE_PACKAGES := $(filter-out %.egg-info,$(wildcard services/*/devicebulk_*))
# Parallel test processes (each gets its own database and RabbitMQ vhost).
TEST_WORKERS ?= 2

.DEFAULT_GOAL := help
.PHONY: help install run demo bench test test-fast lint fmt typecheck migrate compose-up compose-down clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(BIN)/.installed: constraints.txt requirements-dev.txt $(PYPROJECTS)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -c constraints.txt -r requirements-dev.txt
	touch $@

install: $(BIN)/.installed ## create .venv and install every package (pinned by constraints.txt)

run: install ## start the whole stack on this machine (fresh demo database); Ctrl-C stops it
	$(BIN)/devicebulk-devstack run

demo: install ## submit 1,000 activations to the running stack and follow them to the email
	$(BIN)/devicebulk-devstack demo

bench: install ## the benchmarks of DESIGN.md §8 on this machine; writes docs/benchmarks.md (~12 min)
	$(BIN)/devicebulk-devstack bench

test: install ## run every test (unit, integration, end-to-end) against real PostgreSQL and RabbitMQ
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadfile -q

test-fast: install ## every test but the end-to-end ones
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadfile -q -m "not e2e"

lint: install ## ruff (lint and format check) and alembic check (models and migrations agree)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m devicebulk_devstack.alembic_check

typecheck: install ## mypy on the library and the services
	$(BIN)/mypy libs/common/devicebulk_common $(SERVICE_PACKAGES)

fmt: install ## format and auto-fix
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

migrate: install ## bring DATABASE_URL's database to the newest schema
	$(BIN)/devicebulk-migrate

compose-up: ## PostgreSQL, RabbitMQ (with management) and Mailpit in containers, for machines without them
	docker compose up -d

compose-down: ## stop the containers
	docker compose down

clean: ## remove the virtualenv and local state (var/)
	rm -rf $(VENV) var
