# Two commands do all set-up on a fresh machine:
#   make demo   start web, workers and the Looker emulator (SQLite + ORM broker)
#   make test   install everything and run the whole test suite (what CI runs)

SHELL := /bin/bash
UV := $(shell command -v uv 2>/dev/null || echo python3 -m uv)
PORT ?= 8000
EMULATOR_PORT ?= 8800
DEMO_ITEMS ?= 1500

.PHONY: install uv chromium test lint format demo bench clean

uv:
	@command -v uv >/dev/null 2>&1 || python3 -m uv --version >/dev/null 2>&1 || python3 -m pip install --quiet uv

install: uv
	$(UV) sync --frozen

# Debian's Chromium for the browser tests; never a downloaded browser build.
chromium:
	@if [ ! -x /usr/bin/chromium ]; then \
		echo "Installing Debian's chromium for the browser tests..."; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; \
	fi

lint: install
	$(UV) run ruff check .
	$(UV) run ruff format --check .
	$(UV) run lint-imports

format: install
	$(UV) run ruff format .
	$(UV) run ruff check --fix .

test: install chromium lint
	$(UV) run pytest

demo: install
	$(UV) run python manage.py demo --port $(PORT) --emulator-port $(EMULATOR_PORT) --items $(DEMO_ITEMS)

bench: install
	$(UV) run python bench/run_all.py

clean:
	rm -rf data .pytest_cache .ruff_cache
