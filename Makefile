# The two set-up commands of the README:
#   make lab    creates .venv, installs everything (and the offline ImageNet weights), opens JupyterLab
#   make test   creates .venv, installs everything, runs the unit tests and every notebook (fast mode)
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python

.PHONY: lab test unit notebooks outputs student bench clean

$(VENV)/.installed: requirements.txt pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit("Python 3.10+ is needed, found " + sys.version.split()[0]) if sys.version_info < (3, 10) else None'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -e .
	$(PY) -m course_utils.pretrained fetch
	@touch $@

lab: $(VENV)/.installed
	$(VENV)/bin/jupyter lab notebooks/

# Unit tests, the notebook lint, and every notebook executed by nbval in fast mode, on 2 workers
# (one thread each: two workers with two threads each on two cores run several times slower).
test: $(VENV)/.installed
	COURSE_FAST=1 OMP_NUM_THREADS=1 $(PY) -m pytest -n 2 --dist loadscope --nbval-lax --nbval-sanitize-with tests/sanitize.cfg --durations=20 tests notebooks

unit: $(VENV)/.installed
	COURSE_FAST=1 $(PY) -m pytest tests

# Re-run every notebook in full mode and save the outputs (what is committed).
outputs: $(VENV)/.installed
	$(PY) tools/nbtools.py execute notebooks/*.ipynb

student: $(VENV)/.installed
	$(PY) tools/nbtools.py student notebooks/*.ipynb --out student/

clean:
	rm -rf $(VENV) student .pytest_cache
