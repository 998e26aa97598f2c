# The two commands a fresh machine needs: `make demo` and `make test`. Each creates or refreshes .venv
# by itself (Python >= 3.11 as python3, Go for CometBFT, Node.js with npm for the Studio), so nothing
# has to be installed beforehand: Python packages, the pinned CometBFT and kubo (IPFS) into .venv/bin,
# CometBFT's ABCI types, and the Studio's front-end packages from its lockfile. Only `make test` also
# installs Debian's Chromium for the browser tests when it is missing (as root, or through sudo): the
# demo needs no browser - nor llama.cpp's Python binding, which `make test` compiles from the pinned
# llama-cpp-python sdist (the GGUF export's test; about 3 min on 2 cores, the wheel then kept in pip's
# cache), nor the JS client test's npm packages. llama.cpp's converters (`finetune export --format
# gguf`) are extracted once, hash-checked, into .venv/share/llama.cpp
# (gpu_worker/finetune/gguf_export.py). `make test-fast` runs the in-process tests only (no processes
# started, nothing slow).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
BROWSER_STAMP := $(VENV)/.chromium-stamp
TEST_STAMP := $(VENV)/.test-tools-stamp

.PHONY: demo test test-fast lint typecheck bench bench-tools weights protos clean cometbft

ROOT := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

$(STAMP): pyproject.toml node/abci/install.py node/ipfs/install.py gpu_worker/finetune/gguf_export.py \
		studio/package-lock.json
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev,worker,studio]"
	$(PY) -m node.abci.install
	$(PY) -m node.ipfs.install  # kubo for a testnet's IPFS swarm: built from source once (about 4 min on 2 cores)
	$(PY) -m gpu_worker.finetune.gguf_export install
	npm ci --prefix studio --no-audit --no-fund --loglevel=error
	touch $(STAMP)

# What only tests use: llama.cpp's binding, compiled (the GGUF export's test), and the JS client's packages.
$(TEST_STAMP): $(STAMP) tests/js/package-lock.json
	CMAKE_ARGS="-DLLAVA_BUILD=OFF" CMAKE_BUILD_PARALLEL_LEVEL=$$(nproc) \
		$(PY) -m pip install --quiet -e ".[llamacpp]"
	npm ci --prefix tests/js --no-audit --no-fund --loglevel=error  # protobufjs, tweetnacl
	touch $(TEST_STAMP)

# Debian's Chromium, which only the browser tests drive (Playwright never downloads one).
$(BROWSER_STAMP): $(STAMP)
	command -v chromium >/dev/null 2>&1 || { $(ROOT) apt-get update -q && \
		DEBIAN_FRONTEND=noninteractive $(ROOT) apt-get install -y -q chromium; }
	touch $(BROWSER_STAMP)

cometbft: $(STAMP)
	$(PY) -m node.abci.install

demo: $(STAMP)
	$(VENV)/bin/payable demo

test: $(STAMP) $(BROWSER_STAMP) $(TEST_STAMP)
	$(PY) -m devtools.protogen --check proto
	$(PY) -m ruff check .
	$(PY) -m mypy
	$(PY) -m pytest -n 2 --dist loadgroup -m "not solo"
	$(PY) -m pytest -m solo

# The in-process tests: no node, worker, studio or browser started, nothing marked slow (about 20 s on 2 cores).
test-fast: $(STAMP)
	$(PY) -m pytest -n 2 --dist loadgroup -m "not e2e and not solo and not slow"

lint: $(STAMP)
	$(PY) -m ruff check .

typecheck: $(STAMP)
	$(PY) -m mypy

bench: $(STAMP)
	$(PY) bench/weights.py
	$(PY) bench/runtime.py
	$(PY) bench/testnet.py
	$(PY) bench/finetune.py

# llama.cpp's llama-server for bench/openlora.py, built once (26 min on a shared 2-core VM, 9 min of CPU)
# from the pinned sdist's vendored source into .venv/share/llama.cpp/<version>/server (bench/llama_server.py);
# not part of `make test`.
bench-tools: $(STAMP)
	$(PY) -m bench.llama_server build

# Measure every call three times on this machine and write the pallets' weights.py files from it.
weights: $(STAMP)
	$(PY) bench/weights.py --runs 3 --write

protos: $(STAMP)
	$(PY) -m devtools.protogen proto

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis .ruff_cache .mypy_cache *.egg-info studio/node_modules tests/js/node_modules
