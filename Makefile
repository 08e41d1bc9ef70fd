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
.PHONY: help venv run test bench lint clean readme docs speed-page

help: ## List the targets with what they do
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[dev]"
	@touch $@

venv: $(BIN)/.installed ## Create .venv and install songpop with its pinned dependencies

run: venv ## Run the whole pipeline on the seed profile: build, explore, train, evaluate, report
	$(BIN)/songpop run

test: venv ## Run the whole test suite (unit, data, model, interface); installs the Debian packages it needs when root
	@scripts/install-test-deps
	$(BIN)/python tests/warm_numba.py
	$(BIN)/python -m pytest -n 2 --dist loadfile $(PYTEST_ARGS)

readme: venv ## Put the last run's figures (runs/<run>/facts.md) into README.md
	$(BIN)/songpop report --run runs/$$(cat runs/LATEST) --readme README.md

bench: venv ## Run the speed and memory benchmarks; figures go to bench-results/ and docs/speed.md
	$(BIN)/python -m benchmarks.run_all --out bench-results; status=$$?; \
	$(BIN)/python scripts/speed_page.py --results bench-results; exit $$status

speed-page: venv ## Write docs/speed.md's figures from bench-results/results.json (never by hand)
	$(BIN)/python scripts/speed_page.py --results bench-results

docs: venv ## Build the documentation site into site/ (strict: a broken link or anchor fails)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir site

lint: venv ## ruff check and format check
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

clean: ## Remove the run folders, reports and caches (never the data)
	rm -rf runs reports bench-results site .pytest_cache .ruff_cache test-artifacts
