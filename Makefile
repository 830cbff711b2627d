# Two commands a newcomer needs: `make demo` and `make test`. Each installs what it needs
# first, once: a virtual environment in .venv with the pinned CPU build of PyTorch (installed
# explicitly, so nothing ever pulls a multi-GB CUDA build) and then coincast itself.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
TORCH  := torch==2.13.0

.PHONY: install demo test notebook lint format bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet $(TORCH)
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/coincast demo

test: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/python -m pytest

notebook: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[notebook]'
	$(BIN)/jupyter lab examples/quickstart.ipynb

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

format: $(STAMP)
	$(BIN)/ruff format src tests benchmarks
	$(BIN)/ruff check --fix src tests benchmarks

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_data.py
	$(BIN)/python benchmarks/bench_train.py
	$(BIN)/python benchmarks/bench_backtest.py
	$(BIN)/python benchmarks/bench_explain.py
	$(BIN)/python benchmarks/bench_global.py
	$(BIN)/python benchmarks/bench_ab.py
	$(BIN)/python benchmarks/bench_startup.py
	$(BIN)/python benchmarks/bench_reliability.py
	$(BIN)/python benchmarks/bench_risk.py --hourly
	$(BIN)/python benchmarks/bench_live.py
	$(BIN)/python benchmarks/bench_serve.py
	$(BIN)/python benchmarks/bench_sweep.py --part batched
	$(BIN)/python benchmarks/bench_engine_backtest.py

clean:
	rm -rf $(VENV) demo-out .pytest_cache .ruff_cache
