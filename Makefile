# The two front-door commands: `make run` (the system with a demo event) and `make test` (the whole suite).
PYTHON ?= python3
VENV   ?= .venv
PY      = $(VENV)/bin/python
PIP     = $(VENV)/bin/pip

.PHONY: run test test-system lint bench bench-deps browser-deps clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -e '.[embedded,dev]'
	touch $@

# Debian's Chromium, a CJK font and poppler for the browser and printing tests (never a browser download),
# and node, which runs the kiosk's offline gate rules against the rules table (tests/unit/test_rules_js.py).
browser-deps:
	@if ! command -v chromium >/dev/null || ! command -v pdftoppm >/dev/null || ! command -v node >/dev/null || ! fc-list 2>/dev/null | grep -qi 'wenquanyi\|noto sans cjk'; then \
		if [ "$$(id -u)" = 0 ]; then \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
				chromium fonts-wqy-microhei poppler-utils fontconfig nodejs >/dev/null; \
		else \
			echo "browser tests need: apt-get install chromium fonts-wqy-microhei poppler-utils nodejs (as root)"; \
		fi; \
	fi

# The benchmark's load generators: wrk (the closed loop) and a C compiler for loadtest/open_loop.c (the open
# loop), both Debian's packages, never a download.
bench-deps:
	@if ! command -v wrk >/dev/null || ! command -v cc >/dev/null; then \
		if [ "$$(id -u)" = 0 ]; then \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
				wrk gcc libc6-dev >/dev/null; \
		else \
			echo "the benchmark needs wrk and a C compiler: apt-get install wrk gcc libc6-dev (as root)"; \
		fi; \
	fi

run: $(VENV)/.installed
	$(VENV)/bin/checkin up

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check checkin tests loadtest
	$(VENV)/bin/mypy --cache-dir $(VENV)/.mypy_cache checkin

# Everything, against embedded PostgreSQL and Valkey started by the tests themselves.
test: $(VENV)/.installed browser-deps bench-deps lint
	$(PY) -m pytest -q -p no:cacheprovider
	$(MAKE) --no-print-directory test-system

# The integration tests again against this machine's own PostgreSQL and Redis on their standard
# ports, when they answer; a database and key prefix of the tests' own keep other data untouched.
test-system: $(VENV)/.installed
	@if $(PY) -c "import socket; [socket.create_connection(('127.0.0.1', p), 1).close() for p in (5432, 6379)]" 2>/dev/null; then \
		echo "== integration tests against the system PostgreSQL (5432) and Redis (6379) =="; \
		CHECKIN_TEST_POSTGRES_URL=postgresql://postgres@127.0.0.1:5432/postgres \
		CHECKIN_TEST_REDIS_URL=redis://127.0.0.1:6379/0 \
		$(PY) -m pytest -q -p no:cacheprovider tests/integration; \
	else \
		echo "== no PostgreSQL and Redis on 127.0.0.1:5432/6379: system-server run not applicable =="; \
	fi

bench: $(VENV)/.installed bench-deps
	$(PY) -m loadtest.run

clean:
	rm -rf $(VENV) .checkin-data
