# Two entry points (see README): `make pipeline` and `make test`. Both create .venv/ first.
# For contributors: `make check` (the tests without the slow end-to-end runs) and `make lint` (ruff).
PYTHON ?= python3
VENV := .venv
export PATH := $(abspath $(VENV))/bin:$(PATH)

.PHONY: setup pipeline test check lint

$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet -c constraints.txt -e '.[dev]'
	touch $@

setup: $(VENV)/.installed

# one math thread per process: the same sums in the same order on every host, so the same figures (README)
pipeline: export OMP_NUM_THREADS = 1
pipeline: setup
	dvc repro

test: setup
	pytest

check: setup
	pytest -m 'not slow'

lint: setup
	ruff check .
