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

.PHONY: setup lab test bench times figures exercises sync handout doctor clean

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

# What students get: the course without solutions/ (from the last commit).
handout:
	@mkdir -p build
	git archive --format=zip --prefix=ngrams-to-gpt/ -o build/handout.zip HEAD -- . ':!solutions'
	@echo "wrote build/handout.zip (everything but solutions/)"

doctor: setup
	$(PY) -m lmlib doctor

clean:
	rm -rf build .pytest_cache .ruff_cache
