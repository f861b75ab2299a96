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

.PHONY: run test setup iverilog chromium bench lint runtime-env runtime-check

setup: $(TEST_STAMP) iverilog chromium

$(PY):
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

# `make run` needs only the package itself.
$(RUN_STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e .
	@touch $@

# The tests also record traces with Hugging Face transformers (the `recorder` extra),
# which needs torch; the CPU build is all they use.  It is installed first, so that the
# extra's `torch` requirement is already met and pip fetches no CUDA build:
#   1. a CPU build that pip already has at hand (a wheelhouse named in pip's own
#      configuration, e.g. find-links): no download;
#   2. else PyTorch's CPU wheel index, where it is reachable;
#   3. else the plain requirement from the default index.
TORCH_REQ ?= torch>=2.4
TORCH_CPU_INDEX ?= https://download.pytorch.org/whl/cpu
$(TEST_STAMP): pyproject.toml | $(PY)
	@if $(PY) -c "import torch" 2>/dev/null; then :; \
	elif $(PY) -m pip download --quiet --no-index --no-deps -d $(VENV)/torch-wheel \
	       '$(TORCH_REQ)' 2>/dev/null && ls $(VENV)/torch-wheel/torch-*+cpu-*.whl \
	       >/dev/null 2>&1; then \
	  echo "torch: the CPU build pip has at hand" >&2; \
	  $(PY) -m pip install --quiet $(VENV)/torch-wheel/torch-*+cpu-*.whl; \
	elif $(PY) -c "import urllib.request as u; u.urlopen('$(TORCH_CPU_INDEX)/torch/', \
	       timeout=10)" 2>/dev/null; then \
	  echo "torch: PyTorch's CPU wheel index" >&2; \
	  $(PY) -m pip install --quiet --index-url $(TORCH_CPU_INDEX) '$(TORCH_REQ)'; \
	else \
	  echo "torch: the plain requirement (no CPU build at hand, CPU index unreachable)" >&2; \
	  $(PY) -m pip install --quiet '$(TORCH_REQ)'; \
	fi
	@rm -rf $(VENV)/torch-wheel
	$(PY) -m pip install --quiet -e '.[test,recorder]'
	@touch $@ $(RUN_STAMP)

# An environment as `make run` makes it (runtime dependencies only), for the CI check
# that every documented command runs there: `make runtime-env VENV=DIR`.
runtime-env: $(RUN_STAMP)

# Every documented command in a fresh runtime-only environment (.ci/runtime_commands.py).
RUNTIME_VENV ?= $(VENV)-runtime
runtime-check:
	rm -rf $(RUNTIME_VENV)
	$(MAKE) --no-print-directory runtime-env VENV=$(RUNTIME_VENV)
	python3 .ci/runtime_commands.py $(RUNTIME_VENV)

# Headless Chromium renders the HTML report in the tests (Debian's package).
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing Chromium (apt)" >&2; \
	    (apt-get install -y -qq chromium >/dev/null 2>&1 || \
	     (apt-get update -qq && apt-get install -y -qq chromium)) ; \
	  else echo "chromium is missing and we are not root: apt-get install chromium" >&2; exit 1; fi; }

iverilog:
	@command -v iverilog >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing Icarus Verilog (apt)" >&2; \
	    (apt-get install -y -qq iverilog >/dev/null 2>&1 || \
	     (apt-get update -qq && apt-get install -y -qq iverilog)) ; \
	  else echo "iverilog is missing and we are not root: apt-get install iverilog" >&2; exit 1; fi; }

run: $(RUN_STAMP)
	$(VENV)/bin/specaccel run --out $(OUT)

# pytest runs in PYTEST_WORKERS processes (pytest-xdist; 0: one process, as plain `pytest`
# does).  --dist loadgroup hands out tests one by one, except that the tests of one
# xdist_group mark run on one worker (those that share a session artefact, such as the
# bitstream of tests/conftest.py, which is then built once).  The RTL coverage report is
# merged across the workers (tests/hdl/coverage_report.py).
# The runtime-only check (a fresh venv, then every documented command: about 3 minutes of
# one core) shares nothing with pytest but the source tree, so it runs beside it, in a
# session of its own that make test stops when it is interrupted; its report follows
# pytest's, and make test fails if either fails.
# PYTEST_ARGS: extra pytest arguments (e.g. -x).
RUNTIME_LOG ?= $(VENV)/runtime-check.log
PYTEST_WORKERS ?= 2
PYTEST_ARGS ?=
test: setup
	$(PY) -m ruff check .
	@rm -f $(RUNTIME_LOG).pgid; \
	setsid -w sh -c 'echo $$$$ > $(RUNTIME_LOG).pgid; \
	  exec $(MAKE) --no-print-directory runtime-check' > $(RUNTIME_LOG) 2>&1 & runtime=$$!; \
	trap 'kill -TERM -$$(cat $(RUNTIME_LOG).pgid) 2>/dev/null; exit 130' INT TERM; \
	echo "make runtime-check: runs beside pytest (its report follows; log $(RUNTIME_LOG))"; \
	$(PY) -m pytest -n $(PYTEST_WORKERS) --dist loadgroup $(PYTEST_ARGS); tests=$$?; \
	wait $$runtime; checked=$$?; \
	echo "== make runtime-check: exit $$checked"; cat $(RUNTIME_LOG); \
	if [ $$tests -ne 0 ]; then exit $$tests; fi; exit $$checked

lint: $(TEST_STAMP)
	$(PY) -m ruff check .

bench: $(TEST_STAMP)
	@for b in benchmarks/bench_*.py; do echo "== $$b"; $(PY) $$b || exit 1; done
