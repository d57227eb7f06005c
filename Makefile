# Two commands on a fresh machine with Python >= 3.10:
#   make demo   set up .venv, install seqmodels, run the main demo
#   make test   set up .venv, install seqmodels[test], run the fast test suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PYTEST_WORKERS ?= 2

.PHONY: setup demo test test-all faults bench notebooks clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $@

demo: setup
	$(BIN)/python -m experiments.mnist1d --workdir=workdirs/demo --config=experiments/configs/mnist1d.py:demo

test: setup
	$(BIN)/python -m pytest -q -n $(PYTEST_WORKERS) tests

faults: setup  # the fault script: every fault a user meets ends in one clear message, nothing lost
	$(BIN)/python -m pytest -q -n $(PYTEST_WORKERS) tests/experiments/test_faults.py

test-all: setup
	$(BIN)/python -m pytest -q -n $(PYTEST_WORKERS) -m '' tests

notebooks: setup  # execute every notebook in colabs/ with a Jupyter kernel and store its outputs
	$(BIN)/python colabs/run.py --write

bench: setup
	$(BIN)/python -m benchmarks.rnn
	$(BIN)/python -m benchmarks.conv
	$(BIN)/python -m benchmarks.attention
	$(BIN)/python -m benchmarks.seq2seq_decode

clean:
	rm -rf $(VENV) workdirs .pytest_cache .hypothesis
