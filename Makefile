# The two commands a new user needs: `make demo` and `make test`.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test docker-test browser-test lint bench clean constraints

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# The same pinned versions as the Docker image (constraints.txt).
$(VENV)/.installed: pyproject.toml constraints.txt $(BIN)/activate
	$(BIN)/pip install --quiet --constraint constraints.txt -e '.[test,demo,postgres]'
	touch $@

demo: $(VENV)/.installed
	$(BIN)/linli demo

lint: $(VENV)/.installed
	$(BIN)/ruff check bridge bots tests bench
	$(BIN)/ruff format --check bridge bots tests bench
	$(BIN)/mypy

# Two workers, one per core: each has its own Synapse and PostgreSQL (session fixtures);
# worksteal keeps the long crash test from holding back the other worker's queue.
TEST_WORKERS ?= 2
test: lint
	$(BIN)/pytest -n $(TEST_WORKERS) --dist worksteal

# The Docker image and the Compose stack under a Docker engine of the test's own, as
# docs/self-hosting.md says to run them (tests/docker; needs root; minutes, images cached).
docker-test: $(VENV)/.installed
	bash docker/test/install.sh
	$(BIN)/pytest tests/docker -x -s -q

# The back office page in Debian's headless Chromium against a real Synapse (tests/browser;
# installs chromium, chromium-driver and CJK fonts when missing); screenshots are kept in
# $(BROWSER_ARTEFACTS).
BROWSER_ARTEFACTS ?= build/browser-artefacts
browser-test: $(VENV)/.installed
	$(BIN)/pip install --quiet --constraint constraints.txt -e '.[browser]'
	bash tests/browser/install.sh
	LINLI_ARTEFACTS=$(BROWSER_ARTEFACTS) $(BIN)/pytest tests/browser -q

bench: $(VENV)/.installed
	$(BIN)/python -m bench $(ARGS)

# Pin the newest versions pyproject.toml allows, from a fresh venv (then run `make test`).
constraints:
	rm -rf .constraints-venv
	$(PYTHON) -m venv .constraints-venv
	.constraints-venv/bin/pip install --quiet --upgrade pip
	.constraints-venv/bin/pip install --quiet '.[test,demo,postgres]'
	{ sed -n '1,2p' constraints.txt; .constraints-venv/bin/pip freeze --exclude linli; } > constraints.new
	mv constraints.new constraints.txt
	rm -rf .constraints-venv

clean:
	rm -rf $(VENV) data
