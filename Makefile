# The two commands a fresh machine needs: `make demo` and `make test`. Each creates or refreshes
# .venv by itself (Python >= 3.11 as python3, Go for CometBFT), so nothing has to be installed
# beforehand: Python packages, then the pinned CometBFT into .venv/bin and its ABCI types.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: demo test lint bench protos clean cometbft

$(STAMP): pyproject.toml node/abci/install.py
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev,worker]"
	$(PY) -m node.abci.install
	touch $(STAMP)

cometbft: $(STAMP)
	$(PY) -m node.abci.install

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
	$(PY) bench/testnet.py

protos: $(STAMP)
	$(PY) -m runtime.protogen proto

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis .ruff_cache *.egg-info
