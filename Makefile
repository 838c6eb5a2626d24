# One command surface for people and CI. `make test` is the README's test command and what .ci/run calls.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
VENV ?= .venv
PY := $(VENV)/bin/python
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

.PHONY: install dev test test-rust lint typecheck test-python test-wheel bench clean sandbox-deps browser-deps postgres-deps docs

$(PY):
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

# Exactly one ONNX Runtime: the cpu extra here; `pip install '.[gpu]'` for CUDA machines.
install: $(PY)
	$(PY) -m pip install --quiet '.[cpu]'

# The bench extra (PyTorch, torchvision, timm, onnx2torch) is part of dev: the gradient tests compare
# against PyTorch autograd on exported torchvision/timm models, and a test needing a missing tool fails.
dev: $(PY)
	$(PY) -m pip install --quiet -e '.[dev,bench,cpu]'

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

# The server's DB tests run on PostgreSQL too: Debian's server binaries (initdb, pg_ctl), started in a
# temp dir by tests/server/conftest.py, never as a system service.
postgres-deps:
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || (apt-get update && apt-get install -y postgresql)

test-python: dev sandbox-deps browser-deps postgres-deps
	$(VENV)/bin/pytest tests

# The released artefacts: a manylinux2014 wheel (zig as the linker, from PyPI) and an sdist, then the
# wheel installed into a fresh venv whose PATH has no cargo, and the smallest real run.
DIST ?= dist
WHEEL_VENV ?= $(DIST)/venv
test-wheel: dev
	rm -rf $(DIST)
	$(VENV)/bin/maturin build --release --zig --compatibility manylinux2014 -i $(PY) -o $(DIST)
	$(VENV)/bin/auditwheel show $(DIST)/advengine-*manylinux*.whl | tr '\n' ' ' \
	  | grep -q 'consistent with the following platform tag: "manylinux_2_17_x86_64"'
	$(VENV)/bin/maturin sdist -o $(DIST)
	python3 -m venv $(WHEEL_VENV)
	$(WHEEL_VENV)/bin/pip install --quiet "$$(ls $(DIST)/advengine-*manylinux*.whl)[cpu]"
	env -i HOME="$$HOME" PATH="$(CURDIR)/$(WHEEL_VENV)/bin:/usr/bin:/bin" bash -c \
	  '! command -v cargo && cd $(DIST) && advengine --version && advengine models list \
	   && advengine models build efficientnet-lite2-hgd && advengine eval --limit 4 --out eval-limit4'

# Everything CI checks, in order of speed.
test: dev test-rust lint typecheck docs test-python test-wheel

# The API reference site (mkdocs.yml): docs/*.md and the public API's docstrings into site/; --strict
# fails on a broken link, a missing page or a docstring mkdocstrings cannot render.
docs: dev
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --site-dir site

bench: dev
	$(VENV)/bin/pytest benches --benchmark-only --benchmark-columns=min,median,mean,stddev,rounds
	cargo bench -p advengine-kernels

clean:
	rm -rf target $(DIST) $(VENV) .mypy_cache .ruff_cache .pytest_cache .import_linter_cache site
