# Two commands on a fresh machine with only Python 3.10+:
#   make demo   - creates .venv, installs seqtasks, shows every task, checks fingerprints, trains the quick baseline grid
#   make test   - creates .venv, installs seqtasks with test extras, runs the test suite
#   make dist   - builds the sdist and the wheel into dist/ (the wheel ships `seqtasks` only; `baselines`
#                 runs from this checkout as `python -m baselines`)
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# tensorflow-cpu wheels exist for x86_64 only; elsewhere take the full tensorflow package.
TF_EXTRA := $(if $(filter x86_64 AMD64,$(shell uname -m)),tf-cpu,tf)
STAMP := $(VENV)/.installed-$(TF_EXTRA)

.PHONY: demo test test-fast dist wheel-check bench reproduce zoo-evidence docs docs-tasks clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[$(TF_EXTRA),test,bench,beam,docs,dist]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/seqtasks demo
	$(BIN)/python -m baselines reproduce --quick --tasks char_to_vector random_labels reber_grammar sequence_reversal --output runs/demo/results.md --runs-dir runs/demo/runs
	@echo "quick baseline table: runs/demo/results.md"

test: $(STAMP)
	$(BIN)/python -m pytest -q

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow"

dist: $(STAMP)
	rm -rf dist
	$(BIN)/python -m build --outdir dist .

# Installs the built wheel into fresh virtualenvs (numpy only, then tf-cpu) and uses it from outside the checkout.
wheel-check: $(STAMP)
	.ci/wheel_check $(BIN)/python

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_generators.py
	$(BIN)/python benchmarks/bench_input_pipeline.py --quick

reproduce: $(STAMP)
	$(BIN)/python -m baselines reproduce --jobs 2

# Reruns every failure-zoo run quoted in docs/stability.md on the current dataset version (hours on 2 CPU cores).
zoo-evidence: $(STAMP)
	$(BIN)/python -m baselines zoo --all --out docs/stability_runs --figures docs/figures
	$(BIN)/python -m baselines.zoo.summary --page docs/stability.md --evidence docs/stability_runs

docs: $(STAMP)
	$(BIN)/mkdocs build --strict

docs-tasks: $(STAMP)
	$(BIN)/python docs/tasks/generate_pages.py

clean:
	rm -rf $(VENV) build dist *.egg-info
