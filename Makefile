# One command surface for people and CI. `make test` is the README's test command and what .ci/run calls.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
VENV ?= .venv
PY := $(VENV)/bin/python
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

.PHONY: install dev test test-rust lint typecheck test-python bench clean sandbox-deps browser-deps

$(PY):
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

install: $(PY)
	$(PY) -m pip install --quiet .

# The bench extra (PyTorch, torchvision, timm, onnx2torch) is part of dev: the gradient tests compare
# against PyTorch autograd on exported torchvision/timm models, and a test needing a missing tool fails.
dev: $(PY)
	$(PY) -m pip install --quiet -e '.[dev,bench]'

test-rust:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings
	cargo test --workspace

lint: dev
	$(VENV)/bin/ruff check python tests benches
	$(VENV)/bin/ruff format --check python tests benches
	$(VENV)/bin/lint-imports

typecheck: dev
	$(VENV)/bin/mypy

# The submission tests run untrusted code under bubblewrap; CI runs as root on a fresh Debian machine.
sandbox-deps:
	command -v bwrap >/dev/null || (apt-get update && apt-get install -y bubblewrap)

# The report test loads report.html in a real headless browser: Debian's Chromium and its driver.
browser-deps:
	command -v chromium >/dev/null && command -v chromedriver >/dev/null || \
		(apt-get update && apt-get install -y chromium chromium-driver)

test-python: dev sandbox-deps browser-deps
	$(VENV)/bin/pytest tests

# Everything CI checks, in order of speed.
test: dev test-rust lint typecheck test-python

bench: dev
	$(VENV)/bin/pytest benches --benchmark-only --benchmark-columns=min,median,mean,stddev,rounds
	cargo bench -p advengine-kernels

clean:
	rm -rf target $(VENV) .mypy_cache .ruff_cache .pytest_cache .import_linter_cache
