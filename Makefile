# Two commands do all set-up on a fresh machine with Python >= 3.11: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The second test leg runs on PostgreSQL + Redis (CI sets these; the defaults are local services).
TEST_DATABASE_URL ?= $(or $(DATABASE_URL),postgres://postgres@127.0.0.1:5432/test)
TEST_REDIS_URL ?= $(or $(REDIS_URL),redis://127.0.0.1:6379/0)

.PHONY: install demo serve test test-tools lint format bench clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11 or newer is needed"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

demo: install
	$(BIN)/pupil-progress demo

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# End-to-end tests also drive the reference JavaScript client (Node.js), a private
# redis-server and, for the dashboards, Debian's Chromium (through Playwright for Python, which
# never downloads a browser of its own); install them from Debian when missing and allowed to.
test-tools:
	@missing=""; command -v node >/dev/null || missing="$$missing nodejs npm"; \
	command -v redis-server >/dev/null || missing="$$missing redis-server"; \
	[ -x /usr/bin/chromium ] || command -v chromium >/dev/null || missing="$$missing chromium"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	  else echo "note: install$$missing for the end-to-end tests"; fi; \
	fi

test: lint test-tools
	$(BIN)/python -m tests.legs --database-url "$(TEST_DATABASE_URL)" --redis-url "$(TEST_REDIS_URL)"

bench: install
	$(BIN)/python -m bench.queries

clean:
	rm -rf $(VENV) var .mypy_cache .ruff_cache .pytest_cache
