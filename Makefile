# LLMs from Scratch, by the Numbers: build, test and author the book.
#   make book      create .venv, install the pinned requirements, build the site into _build/html
#   make test      ruff, pytest, nbval (strict) on every notebook, book build with -W, site checks
#   make lab       JupyterLab on the notebooks
#   make outputs   re-execute every notebook in place, the way nbval re-runs them
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
VENDORED := _vendor/.vendored
NOTEBOOKS = $(shell $(BIN)/python tools/toc_notebooks.py)
# The same environment for `make outputs` and nbval, so stored outputs are what nbval sees;
# LLMBOOK_EXPLORER_FRAMES=1 makes every explorer store its precomputed states for the site.
NB_ENV := PYTHONHASHSEED=0 MPLBACKEND=module://matplotlib_inline.backend_inline LLMBOOK_EXPLORER_FRAMES=1
JB_FLAGS := -W -n --keep-going

.PHONY: book test lint unit nbval site browser lab outputs clean venv

venv: $(INSTALLED)
$(INSTALLED): requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

$(VENDORED): package.json package-lock.json tools/vendor_js.sh
	npm ci --no-audit --no-fund --loglevel=error
	bash tools/vendor_js.sh
	touch $@

site: $(INSTALLED) $(VENDORED)
	$(BIN)/jupyter-book build . $(JB_FLAGS)

book: site
	@echo "Open _build/html/index.html"

lint: $(INSTALLED)
	$(BIN)/ruff check llmbook tests benchmarks tools notebooks
	$(BIN)/ruff format --check llmbook tests benchmarks tools

unit: $(INSTALLED)
	$(BIN)/python -m pytest -m "not site"

nbval: $(INSTALLED)
	$(NB_ENV) $(BIN)/python -m pytest -p no:cacheprovider --nbval --nbval-current-env \
	  --nbval-sanitize-with nbval_sanitize.cfg --nbval-cell-timeout=600 -o addopts="" $(NOTEBOOKS)

browser: $(INSTALLED)
	bash tools/get_browser.sh

test: lint unit nbval site browser
	$(BIN)/python -m pytest -m site

lab: $(INSTALLED)
	$(BIN)/jupyter lab notebooks/

outputs: $(INSTALLED)
	for nb in $(NOTEBOOKS); do \
	  echo "executing $$nb"; \
	  $(NB_ENV) $(BIN)/jupyter execute --inplace --timeout=600 "$$nb"; \
	  $(BIN)/python tools/clean_notebook.py "$$nb"; \
	done

clean:
	rm -rf _build _vendor node_modules
