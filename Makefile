# The two commands of the README:
#   make run    set up (first time) and run `specaccel run` on the bundled defaults
#   make test   set up (first time) and run the whole test suite (ruff + pytest)
# Set-up: a virtual environment in .venv with the package installed editable, and
# Icarus Verilog through apt when it is missing and we are root.

VENV ?= .venv
PY := $(VENV)/bin/python
RUN_STAMP := $(VENV)/.installed-run
TEST_STAMP := $(VENV)/.installed-test
OUT ?= specaccel-out

.PHONY: run test setup iverilog bench lint

setup: $(TEST_STAMP) iverilog

$(PY):
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

# `make run` needs only the package itself.
$(RUN_STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e .
	@touch $@

# The tests also record traces with Hugging Face transformers (the `recorder` extra).
# torch must be the CPU build that lies on this machine's disk: asking for exactly
# torch==2.13.0 takes it, any looser spec downloads a multi-GB CUDA build.
$(TEST_STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[test,recorder]'
	@touch $@ $(RUN_STAMP)

iverilog:
	@command -v iverilog >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing Icarus Verilog (apt)" >&2; \
	    (apt-get install -y -qq iverilog >/dev/null 2>&1 || \
	     (apt-get update -qq && apt-get install -y -qq iverilog)) ; \
	  else echo "iverilog is missing and we are not root: apt-get install iverilog" >&2; exit 1; fi; }

run: $(RUN_STAMP)
	$(VENV)/bin/specaccel run --out $(OUT)

test: setup
	$(PY) -m ruff check .
	$(PY) -m pytest

lint: $(TEST_STAMP)
	$(PY) -m ruff check .

bench: $(TEST_STAMP)
	@for b in benchmarks/bench_*.py; do echo "== $$b"; $(PY) $$b || exit 1; done
