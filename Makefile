# Two commands on a fresh machine:
#   make demo   sets up and runs the demo (dashboard on demo data, embedded SQLite)
#   make test   sets up and runs every test (unit, integration, real data, browser)

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PORT   ?= 8050
CASES  ?= 200000

.PHONY: demo test install install-test browser postgres fonts axe lint clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[test]'
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

demo: install
	$(BIN)/civic-metrics demo --port $(PORT) --cases $(CASES)

# Browser tests drive Debian's Chromium through its chromedriver.
browser:
	@if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ]; then \
		echo "installing chromium and chromium-driver (Debian packages)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; \
	else \
		echo "browser tests need chromium and chromedriver: sudo apt-get install chromium chromium-driver" >&2; exit 1; \
	fi

# PostgreSQL tests start their own throwaway server from the machine's binaries.
postgres:
	@if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ]; then \
		echo "installing postgresql (Debian package)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; \
	else \
		echo "PostgreSQL tests need the server binaries: sudo apt-get install postgresql" >&2; exit 1; \
	fi

# The briefing (civic-metrics report) sets Chinese in Noto Sans CJK; its tests read PDFs with
# poppler's pdftotext and pdfinfo. Its charts are drawn by Chromium (the browser target).
fonts:
	@if fc-list 2>/dev/null | grep -qi "Noto Sans CJK" && command -v pdftotext >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ]; then \
		echo "installing fonts-noto-cjk and poppler-utils (Debian packages)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-noto-cjk poppler-utils >/dev/null; \
	else \
		echo "the briefing needs Noto CJK fonts and its tests poppler: sudo apt-get install fonts-noto-cjk poppler-utils" >&2; exit 1; \
	fi

# The accessibility test runs axe-core (from the npm registry) inside the pages.
AXE := $(VENV)/axe/node_modules/axe-core/axe.min.js
$(AXE): | $(BIN)/python
	@if command -v npm >/dev/null; then \
		npm install --silent --no-audit --no-fund --prefix $(VENV)/axe axe-core@4 >/dev/null; \
	else \
		echo "the accessibility test needs npm to install axe-core (Debian: apt-get install npm)" >&2; exit 1; \
	fi
axe: $(AXE)

test: install-test browser postgres fonts axe
	$(BIN)/ruff check dashboard metrics etl tests
	CIVIC_METRICS_REQUIRE_POSTGRES=1 $(BIN)/pytest --headless -q

lint: install-test
	$(BIN)/ruff check dashboard metrics etl tests

clean:
	rm -rf $(VENV) var .pytest_cache
