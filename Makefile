# The two commands a fresh machine needs: `make demo` and `make test`. Each creates or refreshes
# .venv by itself (Python >= 3.11 as python3, Go for CometBFT, Node.js with npm for the Studio), so
# nothing has to be installed beforehand: Python packages, the pinned CometBFT into .venv/bin and its
# ABCI types, the Studio's front-end packages from its lockfile, and Debian's Chromium for the browser
# tests when it is missing (as root, or through sudo).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: demo test lint bench protos clean cometbft

ROOT := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

$(STAMP): pyproject.toml node/abci/install.py studio/package-lock.json
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev,worker,studio]"
	$(PY) -m node.abci.install
	npm ci --prefix studio --no-audit --no-fund --loglevel=error
	command -v chromium >/dev/null 2>&1 || { $(ROOT) apt-get update -q && \
		DEBIAN_FRONTEND=noninteractive $(ROOT) apt-get install -y -q chromium; }
	touch $(STAMP)

cometbft: $(STAMP)
	$(PY) -m node.abci.install

demo: $(STAMP)
	$(VENV)/bin/payable demo

test: $(STAMP)
	$(PY) -m devtools.protogen --check proto
	$(PY) -m ruff check .
	$(PY) -m pytest -n 2 --dist loadgroup -m "not solo"
	$(PY) -m pytest -m solo

lint: $(STAMP)
	$(PY) -m ruff check .

bench: $(STAMP)
	$(PY) bench/weights.py
	$(PY) bench/runtime.py
	$(PY) bench/testnet.py
	$(PY) bench/finetune.py

protos: $(STAMP)
	$(PY) -m devtools.protogen proto

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis .ruff_cache *.egg-info studio/node_modules
