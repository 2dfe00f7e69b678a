# LLMs from Scratch, by the Numbers: build, test and author the book.
#   make book      create .venv, install the pinned requirements, build the site into _build/html
#   make test      ruff, pytest, nbval (strict) on every notebook, book build with -W, site checks
#   make lab       JupyterLab on the notebooks (MyST rendered by jupyterlab-myst)
#   make reader    the reader notebooks for Colab and GitHub (plain Markdown) into _build/reader
#   make outputs   re-execute every notebook in place, the way nbval re-runs them
#   make nbval-portable  strict nbval with portable CPU kernels (a stand-in for another CPU)
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
# A second environment with the versions Colab ships (requirements-colab.txt), for colab-test.
COLAB_PYTHON ?= python3.11
COLAB_VENV := .venv-colab
COLAB_INSTALLED := $(COLAB_VENV)/.installed
VENDORED := _vendor/.vendored
# JupyterLab settings for `make lab`: save the widget state with the notebook, so a chapter that
# was run, saved and reopened shows each explorer's controls and last picture, not an error.
LAB_SETTINGS := $(VENV)/share/jupyter/lab/settings/overrides.json
NOTEBOOKS = $(shell $(BIN)/python tools/toc_notebooks.py)
# The same environment for `make outputs` and nbval, so stored outputs are what nbval sees;
# LLMBOOK_EXPLORER_FRAMES=1 makes every explorer store its precomputed states for the site.
NB_ENV := PYTHONHASHSEED=0 MPLBACKEND=module://matplotlib_inline.backend_inline LLMBOOK_EXPLORER_FRAMES=1
JB_FLAGS := -W -n --keep-going
# Strict nbval, comparing what a reader reads: tools/nbval_reader_view.py leaves out the pictures
# inside stored explorers (nbval skips image/png already), which differ by CPU in the last pixels.
NBVAL_FLAGS := -p no:cacheprovider -p tools.nbval_reader_view --nbval --nbval-current-env \
  --nbval-sanitize-with nbval_sanitize.cfg --nbval-cell-timeout=600 -o addopts=""

.PHONY: book test lint unit nbval nbval-portable site browser lab lab-test colab-venv colab-test reader outputs clean venv

venv: $(INSTALLED)
$(INSTALLED): requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

colab-venv: $(COLAB_INSTALLED)
$(COLAB_INSTALLED): requirements-colab.txt pyproject.toml
	rm -rf $(COLAB_VENV)
	$(COLAB_PYTHON) -m venv $(COLAB_VENV)
	$(COLAB_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(COLAB_VENV)/bin/python -m pip install --quiet -r requirements-colab.txt
	$(COLAB_VENV)/bin/python -m pip install --quiet --no-deps -e .
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
	$(BIN)/python -m pytest -m "not site and not jupyterlab and not colab"

nbval: $(INSTALLED)
	$(NB_ENV) $(BIN)/python -m pytest $(NBVAL_FLAGS) $(NOTEBOOKS)

# The same strict nbval with torch's and MKL's portable kernels instead of this CPU's fastest
# ones: a stand-in for another CPU. A printed number that changes here would change there too.
nbval-portable: $(INSTALLED)
	ATEN_CPU_CAPABILITY=default DNNL_MAX_CPU_ISA=SSE41 MKL_ENABLE_INSTRUCTIONS=SSE4_2 \
	  $(NB_ENV) $(BIN)/python -m pytest $(NBVAL_FLAGS) $(NOTEBOOKS)

browser: $(INSTALLED)
	bash tools/get_browser.sh

# The widget tests and chapters 1 and 12 under Colab's versions (ipywidgets 7, IPython 7).
colab-test: $(COLAB_INSTALLED)
	$(COLAB_VENV)/bin/python -m pytest -p no:cacheprovider tests/test_widgets.py \
	  tests/test_live_widgets.py tests/test_colab.py

# Chapter 1 opened, unexecuted and untrusted, in JupyterLab in headless Chromium.
lab-test: $(INSTALLED) $(LAB_SETTINGS) browser
	$(BIN)/python -m pytest tests/test_jupyterlab.py

test: lint unit nbval site browser lab-test colab-test
	$(BIN)/python -m pytest -m site

$(LAB_SETTINGS): tools/jupyterlab/overrides.json $(INSTALLED)
	mkdir -p $(dir $@)
	cp $< $@

lab: $(INSTALLED) $(LAB_SETTINGS)
	$(BIN)/jupyter lab notebooks/

reader: $(INSTALLED)
	$(BIN)/python tools/reader_notebooks.py --out _build/reader $(NOTEBOOKS)

outputs: $(INSTALLED)
	for nb in $(NOTEBOOKS); do \
	  echo "executing $$nb"; \
	  $(NB_ENV) $(BIN)/jupyter execute --inplace --timeout=600 "$$nb"; \
	  $(BIN)/python tools/clean_notebook.py "$$nb"; \
	done

clean:
	rm -rf _build _vendor node_modules $(COLAB_VENV)
