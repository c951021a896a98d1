# From N-grams to GPT: `make lab` opens the course, `make test` runs every check.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PORT ?= 8888

# The corpora are not part of the repository. On the course's own machines they lie in
# ../shared/data; elsewhere lmlib downloads them once into ~/.cache/lmlib.
ifneq ($(wildcard ../shared/data/tinyshakespeare.txt),)
export LMLIB_DATA_DIR ?= $(abspath ../shared/data)
endif

.PHONY: setup lab test test-site bench times figures exercises sync handout doctor site site-fast slides clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml constraints.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade "pip>=23"
	$(PY) -m pip install --quiet -c constraints.txt -e ".[dev]"
	@touch $@

lab: setup
	$(PY) -m coursekit.lab --port $(PORT)

test: setup
	$(PY) tests/run_checks.py

# The website's own check (CI runs it after make test): build every chapter's page in fast
# mode and open each in headless Chromium (a few minutes on two cores).
test-site: setup
	LMLIB_FAST=1 OMP_NUM_THREADS=1 $(PY) -m pytest -p no:cacheprovider -q -m site tests

bench: setup
	OMP_NUM_THREADS=1 $(PY) -m coursekit.bench

# Run every chapter and solutions notebook in fast and full mode (full: about 20 minutes on
# one free core); records wall and CPU seconds in docs/notebook_times.json, prints the table.
times: setup
	$(PY) -m coursekit.timing --mode both
	$(PY) -m coursekit.timing --markdown

# The README's pictures in docs/figures: the results chart (scored from the shipped
# checkpoints when it runs) and screenshots of the widgets in JupyterLab + headless Chromium.
figures: setup
	OMP_NUM_THREADS=1 $(PY) -m coursekit.figures --out docs/figures

exercises: setup
	$(PY) -m coursekit.exercises generate

# After editing a notebook's .py twin (or the .ipynb), bring the pair back in sync; also
# (re)writes the Colab badge and install cells from pyproject.toml's Repository URL.
sync: setup
	$(VENV)/bin/jupytext --sync chapters/*.ipynb solutions/*.ipynb
	$(PY) -m coursekit.colab
	$(VENV)/bin/nbstripout --keep-id chapters/*.ipynb solutions/*.ipynb
	$(PY) -m coursekit.exercises generate

# What students get (coursekit/exercises/handout.py): chapters, exercises, lmlib, a student
# README and a runtime-only install, from the last commit; refuses uncommitted changes.
# `make handout REF=fall-2027` pins the Colab badges to that tag (push the tag first).
handout: setup
	$(PY) -m coursekit.exercises handout $(if $(REF),--ref $(REF))

doctor: setup
	$(PY) -m coursekit doctor

# The course as a website in build/site: every chapter executed in full mode (cached in
# build/site-cache, so a rebuild re-runs only changed chapters), MathJax and the widget
# manager served from the build (fetched once with npm). site-fast: fast mode, build/site-fast.
site: setup
	$(PY) -m coursekit.site --jobs $(or $(JOBS),1)

site-fast: setup
	$(PY) -m coursekit.site --fast --jobs $(or $(JOBS),2)

# Slides of every chapter in build/slides (nbconvert's reveal.js exporter, notebooks not run);
# reveal.js and MathJax are served from there (fetched once with npm), so they work offline.
slides: setup
	$(PY) -m coursekit.slides

clean:
	rm -rf build .pytest_cache .ruff_cache
