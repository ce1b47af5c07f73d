# The README's two commands: `make run` and `make test`, on a fresh machine with Python 3.11.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP_RUN := $(VENV)/.installed-run
STAMP_TEST := $(VENV)/.installed-test
OUT ?= out

.PHONY: run test lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP_RUN): setup.cfg pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[all]'
	touch $@

$(STAMP_TEST): setup.cfg pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[all,test]'
	touch $@ $(STAMP_RUN)

run: $(STAMP_RUN)
	$(BIN)/ailfm compare --out $(OUT)/compare

test: $(STAMP_TEST)
	$(BIN)/ruff check .
	$(BIN)/hadolint Dockerfile
	$(BIN)/python -m pytest

lint: $(STAMP_TEST)
	$(BIN)/ruff check .
	$(BIN)/hadolint Dockerfile

# the speed benchmarks; the results benchmarks (compass_scenarios.py, ail_eval.py, ...) run for minutes to hours,
# and the gem5 ones need gem5 outputs: each is run with the command the README gives next to its table
SPEED_BENCHES = bench/thermal_speed.py bench/thermal_block.py bench/thermal_grid_parity.py bench/cosim_speed.py \
	bench/compass_speed.py bench/ail_overhead.py

bench: $(STAMP_TEST)
	for script in $(SPEED_BENCHES); do $(BIN)/python $$script || exit 1; done

clean:
	rm -rf $(VENV) $(OUT) build *.egg-info
