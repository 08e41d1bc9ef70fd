# songpop: `make help` lists the targets.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# Use the shared data folder next to the checkout when it exists and nothing else is set.
ifeq ($(SONGPOP_DATA_DIR),)
  ifneq ($(wildcard ../shared/data),)
    export SONGPOP_DATA_DIR := $(abspath ../shared/data)
  endif
endif
PYTEST_ARGS ?=

.DEFAULT_GOAL := help
.PHONY: help venv dev run test bench lint clean readme docs speed-page

help: ## List the targets with what they do
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

# `make run` needs songpop's own dependencies only, without PyTorch; the tests, benchmarks and
# docs add the dev tools (pytest, Playwright, ruff, mkdocs...) and PyTorch (the MLP tests) on
# top: `make dev` took 65 s after a 94 s `make venv` here (2026-12-07, pip's cache cold).
$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e .
	@touch $@

$(BIN)/.installed-dev: $(BIN)/.installed
	$(BIN)/python -m pip install -q -e ".[dev]"
	@touch $@

venv: $(BIN)/.installed ## Create .venv and install songpop with its pinned dependencies
dev: $(BIN)/.installed-dev ## venv, plus the tools the tests, benchmarks and docs use

run: venv ## songpop's main job end to end: build every task's songs, explore, train, evaluate, report
	$(BIN)/songpop run

test: dev ## Run the whole test suite (unit, data, model, interface); installs the Debian packages it needs when root
	@scripts/install-test-deps
	$(BIN)/python tests/warm_numba.py
	$(BIN)/python -m pytest -n 2 --dist loadfile $(PYTEST_ARGS)

readme: venv ## Put the last run's figures (runs/<run>/facts.md) into README.md
	$(BIN)/songpop report --run runs/$$(cat runs/LATEST) --readme README.md

bench: dev ## Run the speed and memory benchmarks; figures go to bench-results/ and docs/speed.md
	$(BIN)/python -m benchmarks.run_all --out bench-results; status=$$?; \
	$(BIN)/python scripts/speed_page.py --results bench-results; exit $$status

speed-page: venv ## Write docs/speed.md's figures from bench-results/results.json (never by hand)
	$(BIN)/python scripts/speed_page.py --results bench-results

docs: dev ## Build the documentation site into site/ (strict: a broken link or anchor fails)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir site

lint: dev ## ruff check and format check
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

clean: ## Remove the run folders, reports and caches (never the data)
	rm -rf runs reports bench-results site .pytest_cache .ruff_cache test-artifacts
