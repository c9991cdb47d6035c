# Two commands do all the set-up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
FLASK := FLASK_APP=wsgi $(BIN)/flask

.PHONY: run test lint bench bench-pages install install-test worker scheduler clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.app-installed: $(BIN)/python pyproject.toml requirements.lock
	$(BIN)/pip install --quiet --disable-pip-version-check -c requirements.lock -e .
	touch $@

$(VENV)/.test-installed: $(VENV)/.app-installed
	$(BIN)/pip install --quiet --disable-pip-version-check -c requirements.lock -e '.[test]'
	touch $@

install: $(VENV)/.app-installed
install-test: $(VENV)/.test-installed

## Serve the product at http://127.0.0.1:5000 on the embedded defaults, with demo data.
run: install
	$(FLASK) db upgrade
	$(FLASK) demo --if-empty
	$(FLASK) run --host 127.0.0.1 --port 5000

## The whole suite: SQLite always; PostgreSQL and Redis when TEST_DATABASE_URL / TEST_REDIS_URL are set.
test: install-test
	$(BIN)/pytest

lint: install-test
	$(BIN)/ruff check .

## Benchmarks that print numbers (PostgreSQL at BENCH_DATABASE_URL): ledger throughput against
## pgbench, a batch of 10,000 payouts through the fake Stripe server, value sharing among 100,000.
bench: install-test
	$(BIN)/python bench/ledger_bench.py
	$(BIN)/python bench/payout_bench.py
	$(BIN)/python bench/value_bench.py

## Every page and API list at size S (seeds schema scale_s, then times it under gunicorn; needs
## wrk for the requests/s). For size L: python bench/seed_scale.py --scale L, then
## python bench/pages.py --schema scale_l.
bench-pages: install-test
	$(BIN)/python bench/seed_scale.py --scale S
	$(BIN)/python bench/pages.py --schema scale_s

## An rq worker for the payouts, emails, exports and default queues (needs REDIS_URL).
worker: install
	$(FLASK) jobs worker

## The scheduler of the periodic jobs (outbox relay, deadlines, payout resume, nightly verify).
scheduler: install
	$(FLASK) jobs scheduler

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis test-artifacts
