# `make test` and `make demo` work on a fresh machine: they create .venv and install into it first.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export HF_HUB_OFFLINE := 1

.PHONY: install lint docs test demo clean

$(STAMP): setup.cfg pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

# Lint and format first (ruff, configured in pyproject.toml): seconds, and a failure names the line.
lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# The documentation site (mkdocs.yml, docs/): --strict fails on a broken link or anchor and on any warning;
# NO_MKDOCS_2_WARNING silences Material's notice about its own future (not a warning about these pages).
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --quiet --site-dir site

test: lint docs
	$(PY) -m pytest -q tests

demo: $(STAMP)
	$(PY) -m a3lign demo $(if $(CLIP),--clip_model $(CLIP))

clean:
	rm -rf $(VENV) build *.egg-info demo_output
