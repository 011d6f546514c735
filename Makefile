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
# The container image: its name, the simulator's, and the base it builds on (the official
# python:3.11-slim-bookworm; localhost/python-base:bookworm is a Debian stand-in that
# deploy/base-image.sh debootstraps when no base image can be pulled, as in CI).
IMAGE ?= localhost/devicebulk:dev
SIM_IMAGE ?= localhost/devicebulk-thingspace-sim:dev
IMAGE_BASE ?= python:3.11-slim-bookworm

.DEFAULT_GOAL := help
.PHONY: help install run demo bench test test-fast lint fmt typecheck migrate compose-up compose-down \
	image image-test k8s-validate compose-validate clean

help: ## list the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

$(BIN)/.installed: constraints.txt requirements-dev.txt $(PYPROJECTS)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -c constraints.txt -r requirements-dev.txt
	touch $@

install: $(BIN)/.installed ## create .venv and install every package (pinned by constraints.txt)

run: install ## start the whole stack on this machine (fresh demo database); Ctrl-C stops it
	$(BIN)/devicebulk-devstack run

CARRIER ?= thingspace
demo: install ## submit 1,000 activations to the running stack and follow them (CARRIER=jasper: POD19)
	$(BIN)/devicebulk-devstack demo --carrier $(CARRIER)

bench: install ## the performance targets measured on this machine; writes docs/benchmarks.md (~25 min)
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
	docker compose up -d postgres rabbitmq mailpit

compose-down: ## stop the containers
	docker compose down

image: install ## build the image and its simulator target (IMAGE_BASE=localhost/python-base:bookworm: on a local Debian base)
	BASE=$(IMAGE_BASE) IMAGE=$(IMAGE) SIM_IMAGE=$(SIM_IMAGE) PIP=$(BIN)/pip deploy/image.sh

image-test: image ## build the image, then carry a 100-device activation through the image's own processes
	DEVICEBULK_IMAGE=$(IMAGE) DEVICEBULK_SIM_IMAGE=$(SIM_IMAGE) \
	  $(BIN)/pytest -p no:cacheprovider -n 0 -q tests/deploy/test_image.py

k8s-validate: install ## render every kustomize overlay, validate it strictly, and test what it sets
	$(BIN)/python deploy/k8s/validate.py
	$(BIN)/pytest -p no:cacheprovider -n 0 -q tests/deploy/test_manifests.py tests/deploy/test_compose.py

compose-validate: ## check docker-compose.yml with docker-compose (or podman-compose) config
	deploy/compose-validate.sh

clean: ## remove the virtualenv and local state (var/)
	rm -rf $(VENV) var .build
