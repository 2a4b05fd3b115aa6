# The two commands: `make run` (the kiosk on its embedded default) and `make test`.
# Both bootstrap what they need: Debian packages (apt), then a .venv with the project.
# A second run only checks and changes nothing.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

# Build: python3-venv python3-dev swig libpcsclite-dev (pyscard has no Linux wheel).
# Cards: pcscd vsmartcard-vpcd softhsm2 opensc, libp11-kit-dev (pkcs11.h for the simulated
# PIN-pad shim, built with build-essential's cc). Scanning: libzbar0 tesseract-ocr fonts-ocr-b.
# UI: Mesa GL for Kivy's offscreen SDL2 rendering, xvfb. systemd: unit verification.
APT_PACKAGES := python3-venv python3-dev build-essential swig libpcsclite-dev \
	pcscd pcsc-tools vsmartcard-vpcd softhsm2 opensc libp11-kit-dev \
	libzbar0 tesseract-ocr fonts-ocr-b \
	libgl1 libegl1 libgl1-mesa-dri libmtdev1 xvfb \
	systemd openssl sqlite3

.PHONY: run test lint layers typecheck unit bootstrap apt venv bytecode tour bench clean

run: bootstrap
	$(BIN)/kiosk --demo

# Three pytest workers on the machine's two cores: with two, a third of the CPU sat idle
# (tests wait on subprocesses, frames, sockets); quiet, 4 min 14 s with -n 2 against
# 3 min 28 s with -n 3 (docs/ui.md). Every test that starts the machine-wide pcscd runs on
# one worker (tests/conftest.py).
PYTEST_ARGS ?= -n 3 --dist loadgroup

# PYTHONDONTWRITEBYTECODE is set on these machines, and pytest then keeps no cache of the
# modules it rewrites for its asserts: each of its three processes rewrote the test modules
# and every module of the pytest plugins (schemathesis, hypothesis) again, ~1.2 s CPU each
# for the plugins alone. With the cache the controller writes them once and the workers
# read them; a second run rewrites nothing. The caches live in __pycache__ (git-ignored).
# The layer contracts and mypy (one core each; mypy ~7 s CPU in a fresh clone with no
# .mypy_cache) run beside pytest rather than before it, while its workers start; their
# output follows pytest's, and either failing fails `make test`.
test: bootstrap lint
	@set +e; log=$$(mktemp); \
	{ $(BIN)/lint-imports && $(BIN)/mypy; } >$$log 2>&1 & checks=$$!; \
	PYTHONDONTWRITEBYTECODE= $(BIN)/python -m pytest $(PYTEST_ARGS); code=$$?; \
	wait $$checks; checked=$$?; cat $$log; rm -f $$log; \
	if [ $$checked -ne 0 ]; then echo "make test: lint-imports or mypy failed (above)"; exit $$checked; fi; \
	if [ $$code -eq 5 ]; then echo "pytest ran no test: failing"; exit 1; fi; exit $$code

lint: bootstrap
	$(BIN)/ruff check .

# The layer contracts (import-linter, [tool.importlinter] in pyproject.toml).
layers: bootstrap
	$(BIN)/lint-imports

typecheck: bootstrap
	$(BIN)/mypy

tour: bootstrap
	$(BIN)/kiosk --demo --tour docs/screenshots

bench: bootstrap
	@for b in bench/*.py; do echo "== $$b"; $(BIN)/python $$b; done

bootstrap: apt venv bytecode

apt:
	@missing=""; for p in $(APT_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "Installing Debian packages:$$missing"; \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get update -q; \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing; \
	fi

venv:
	@[ -x $(BIN)/python ] || $(PYTHON) -m venv $(VENV)
	@want=$$(sha256sum pyproject.toml | cut -d' ' -f1); \
	if [ "$$(cat $(STAMP) 2>/dev/null)" != "$$want" ]; then \
	  $(BIN)/pip install -q --upgrade pip; \
	  $(BIN)/pip install -q -e '.[ui,hardware,scan,portal,dev]'; \
	  echo "$$want" > $(STAMP); \
	fi

# PYTHONDONTWRITEBYTECODE is set on these machines: pip compiles what it installs, but not
# the project's own sources of an editable install, so every start compiled each of them
# again (~0.1 s to first frame). compileall skips what is up to date.
bytecode: venv
	@$(BIN)/python -m compileall -q -j0 kiosk hardware screens portal >/dev/null

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
