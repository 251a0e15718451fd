# Two commands do all the set-up: `make demo` runs the main job, `make test` the tests.
# Each creates .venv when it is missing and installs fgav (editable, with dev) and every
# first-party plugin under plugins/ and the example plugin under examples/.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
FGAV := $(VENV)/bin/fgav
PLUGIN_DIRS := $(patsubst %/pyproject.toml,%,$(wildcard plugins/*/pyproject.toml))
EXAMPLE_DIRS := $(patsubst %/pyproject.toml,%,$(wildcard examples/*/pyproject.toml))
STAMP := $(VENV)/.fgav-installed
PYTEST_ARGS ?=

.PHONY: demo test venv clean

# The main job: audit the embedded ResNet-18 target's depth head on SynthSpoof, with and
# without SFA. The first run trains the target and its SFA module into the user cache
# (~/.cache/fgav, or $FGAV_CACHE), saying so; later runs reuse them.
DEMO_ARGS ?= --backbone resnet18 --head depth
DEMO_OUT ?= out/demo

demo: $(STAMP)
	$(FGAV) audit $(DEMO_ARGS) --json $(DEMO_OUT)/audit.json
	@$(FGAV) report $(DEMO_OUT)/audit.json --html $(DEMO_OUT)/audit.html >/dev/null
	@echo "Next: open $(DEMO_OUT)/audit.html for the report (tables and figures; the numbers are in $(DEMO_OUT)/audit.json), or try 'fgav audit --backbone resnet18 --head all'."

# The layer contract (.importlinter, see docs/architecture.md) is checked before the tests.
test: $(STAMP)
	$(VENV)/bin/lint-imports
	$(PY) -m pytest $(PYTEST_ARGS)

venv: $(STAMP)

$(STAMP): pyproject.toml $(addsuffix /pyproject.toml,$(PLUGIN_DIRS) $(EXAMPLE_DIRS))
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev]' $(addprefix -e ,$(PLUGIN_DIRS) $(EXAMPLE_DIRS))
	@touch $@

clean:
	rm -rf $(VENV) build *.egg-info
