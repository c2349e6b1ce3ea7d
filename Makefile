# smsconsent — `make run` to try it, `make test` to check it.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
# Tests run against the real services; override to keep parallel checkouts apart.
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/smsconsent
TEST_REDIS_URL ?= redis://127.0.0.1:6379/1
TEST_ENV := DEBUG=1 SECRET_KEY=test-secret-key SUPPRESSION_HMAC_KEY=test-hmac-key \
	SMS_BACKEND=locmem TWILIO_API_BASE_URL=http://127.0.0.1:9/ REDIS_URL=$(TEST_REDIS_URL)
PYTEST_ARGS ?=

.PHONY: run test test-postgres test-sqlite lint bench clean

$(VENV)/.installed: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed requirements-dev.txt
	$(PY) -m pip install -q -r requirements-dev.txt
	touch $@

$(VENV)/.installed-bench: $(VENV)/.installed-dev requirements-bench.txt
	$(PY) -m pip install -q -r requirements-bench.txt
	touch $@

# `make run RUN_PORT=8100` serves another port; the database and the development keys live in var/.
run: $(VENV)/.installed
	scripts/run.sh

test: $(VENV)/.installed-dev
	scripts/ensure-services.sh postgres redis
	scripts/ensure-chromium.sh
	$(MAKE) --no-print-directory lint
	$(MAKE) --no-print-directory test-postgres
	$(MAKE) --no-print-directory test-sqlite

test-postgres: $(VENV)/.installed-dev
	$(TEST_ENV) DATABASE_URL=$(TEST_DATABASE_URL) $(PY) -m pytest $(PYTEST_ARGS)

# The smoke subset on the embedded default database `make run` uses.
test-sqlite: $(VENV)/.installed-dev
	$(TEST_ENV) DATABASE_URL=sqlite:///var/test-smoke.sqlite3 $(PY) -m pytest -m smoke -p no:cacheprovider $(PYTEST_ARGS)

lint: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check .
	$(TEST_ENV) $(PY) manage.py makemigrations --check --dry-run

# Benchmarks at SCALE contacts (default one million); results in benchmarks/results/ and the README.
SCALE ?= 1000000
bench: $(VENV)/.installed-bench
	scripts/ensure-services.sh postgres redis
	$(PY) -m benchmarks.run --scale $(SCALE) $(BENCH_ARGS)

clean:
	rm -rf $(VENV) var/*.sqlite3* var/static
	rm -f var/ledger-anchors.jsonl  # the anchors of the database removed above
