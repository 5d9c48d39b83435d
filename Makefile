# The two commands of the README: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha1sum | cut -c1-12)

.PHONY: run test lint typecheck pytest install clean chromium

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e '.[dev]'
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/audittrail migrate
	$(BIN)/audittrail serve --host 127.0.0.1 --port 8000

lint: install
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/lint-imports

typecheck: install
	$(BIN)/mypy src

# The viewer's browser tests drive Debian's chromium (tests/web); installed here when missing
# (through sudo when not root).
chromium:
	@(test -x /usr/bin/chromium && test -x /usr/bin/chromedriver) || (sudo=$$( [ "$$(id -u)" -eq 0 ] || echo sudo ) && \
		$$sudo apt-get update -qq && \
		$$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver) >&2

# Two workers (pytest-xdist), a test file each at a time: the suite waits on databases, servers
# and a browser as much as it computes (docs/NOTES.md, session 11: 12 min on a quiet machine,
# against about 19 on one worker, estimated from its parts).
pytest: install chromium
	$(BIN)/pytest -q -n 2 --dist loadfile

test: lint typecheck pytest

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

# Issue 3's log benchmarks at full size (a million records; 20-40 minutes on two cores). Each
# prints one JSON line of results on stdout; progress goes to stderr. Not part of `make test`.
bench-log: install
	$(BIN)/python -m bench.log_proofs
	$(BIN)/python -m bench.log_verify
	$(BIN)/python -m bench.log_write

# Issue 12's fuzzing at length: tests/fuzz (schemathesis, every route, both databases) with
# AUDITTRAIL_FUZZ_EXAMPLES examples an operation instead of `make test`'s 50, at random instead
# of the same ones each time (about 16 minutes at 1000 on two cores). Failures print a curl line.
AUDITTRAIL_FUZZ_EXAMPLES ?= 1000
.PHONY: fuzz
fuzz: install
	AUDITTRAIL_FUZZ_EXAMPLES=$(AUDITTRAIL_FUZZ_EXAMPLES) AUDITTRAIL_FUZZ_DERANDOMIZE=0 \
		$(BIN)/pytest -q tests/fuzz

# Issues 4 and 17: the service under wrk against its baselines, one worker and two (about 12 min on two
# cores; `BENCH_INGEST_ARGS=--quick` for a 2-minute smoke run, `--million` for a million records).
# Installs wrk when missing (Debian/Ubuntu). Quiet recipes: stdout is the one JSON line only.
.PHONY: bench-ingest
bench-ingest: install
	@(command -v wrk || (apt-get update && apt-get install -y wrk)) >&2
	@$(BIN)/python -m bench.ingest $(BENCH_INGEST_ARGS)

# Issue 17's profile of the write path: py-spy samples the server while wrk posts batches of
# 1,000 (BENCH_PROFILE_ARGS="--per-request 0 --connections 32" for single POSTs); about 2 min.
.PHONY: bench-profile
bench-profile: install
	@(command -v wrk || (apt-get update && apt-get install -y wrk)) >&2
	@$(BIN)/python -m bench.profile_ingest $(BENCH_PROFILE_ARGS)

# Issue 13's query benchmark: each shape of the record list through HTTP on 1,000,000 records
# that `audittrail seed` writes into each database, and what the search index (and 0007's other
# new indexes) cost batch ingest, in the same run. `BENCH_QUERY_ARGS=--quick` for a 3-minute
# smoke run on 50,000 records, `--records 10000000` for ten million, `--sections export` for
# issue 15's exports, packs and import (about 10 minutes a database), `--sections pages` for
# issue 16's viewer pages against their API calls (about 5 minutes a database, most of it the
# seed). Quiet: stdout is the JSON.
.PHONY: bench-query
bench-query: install
	@$(BIN)/python -m bench.query $(BENCH_QUERY_ARGS)
