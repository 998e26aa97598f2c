# The two commands a fresh machine needs: `make demo` and `make test`. Each creates or refreshes
# .venv by itself (Python >= 3.11 as python3), so nothing has to be installed beforehand.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: demo test lint bench protos clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev,worker]"
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/payable demo

test: $(STAMP)
	$(PY) -m runtime.protogen --check proto
	$(PY) -m ruff check .
	$(PY) -m pytest -n 2 --dist loadfile

lint: $(STAMP)
	$(PY) -m ruff check .

bench: $(STAMP)
	$(PY) bench/weights.py
	$(PY) bench/runtime.py

protos: $(STAMP)
	$(PY) -m runtime.protogen proto

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis .ruff_cache *.egg-info
