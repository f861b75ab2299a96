# The two commands of the README:
#   make run    set up (first time) and run `specaccel run` on the bundled defaults
#   make test   set up (first time) and run the whole test suite (ruff + pytest)
# Set-up: a virtual environment in .venv with the package installed editable, and
# Icarus Verilog through apt when it is missing and we are root.

VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
OUT ?= specaccel-out

.PHONY: run test setup iverilog bench lint

setup: $(STAMP) iverilog

$(STAMP): pyproject.toml
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[test,recorder]'
	@touch $@

iverilog:
	@command -v iverilog >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing Icarus Verilog (apt)" >&2; \
	    (apt-get install -y -qq iverilog >/dev/null 2>&1 || \
	     (apt-get update -qq && apt-get install -y -qq iverilog)) ; \
	  else echo "iverilog is missing and we are not root: apt-get install iverilog" >&2; exit 1; fi; }

run: $(STAMP)
	$(VENV)/bin/specaccel run --out $(OUT)

test: setup
	$(PY) -m ruff check .
	$(PY) -m pytest

lint: $(STAMP)
	$(PY) -m ruff check .

bench: $(STAMP)
	@for b in benchmarks/bench_*.py; do echo "== $$b"; $(PY) $$b || exit 1; done
