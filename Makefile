# Two commands for a fresh machine:  `make serve` (install, index seeds/, serve on 127.0.0.1:8000)
# and `make test` (install, lint, type-check, run every test including the real-model ones).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install serve index test lint eval bench clean fuzz

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	# torch first and pinned: the CPU-only wheel this machine's pip index serves (elsewhere add
	# --index-url https://download.pytorch.org/whl/cpu, as the Dockerfile does), no CUDA packages
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

serve: $(STAMP)
	HF_HUB_OFFLINE=1 $(BIN)/qa serve

index: $(STAMP)
	HF_HUB_OFFLINE=1 $(BIN)/qa index

lint: $(STAMP)
	$(BIN)/ruff check qa api eval tests
	$(BIN)/mypy

test: lint
	HF_HUB_OFFLINE=1 $(BIN)/pytest

# Hostile input, longer than CI: Hypothesis over every route and schemathesis over the schema.
fuzz: $(STAMP)
	HF_HUB_OFFLINE=1 QA_FUZZ_EXAMPLES=$${QA_FUZZ_EXAMPLES:-1000} $(BIN)/pytest -p no:cacheprovider \
		--hypothesis-show-statistics tests/hostile/test_properties.py tests/hostile/test_schemathesis.py

eval: $(STAMP)
	HF_HUB_OFFLINE=1 $(BIN)/qa eval --mode all

clean:
	rm -rf .qa-index .pytest_cache .mypy_cache .ruff_cache
