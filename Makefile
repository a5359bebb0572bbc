# Everything runs inside .venv, created on first use from requirements.txt.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
ARTISAN := $(PY) artisan
QUEUE ?= default
ARGS ?=

.DEFAULT_GOAL := help
.PHONY: help setup migrate test lint bench queue-work queue-work-emails queue-failed queue-retry-failed queue-restart \
	queue-stats queue-clear queue-metrics queue-health queue-top queue-listen schedule-work schedule-list \
	horizon horizon-status horizon-terminate queue-dashboard

help: ## List the targets
	@grep -hE '^[a-zA-Z0-9_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-22s %s\n", $$1, $$2}'

$(VENV)/.installed: requirements.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt
	@touch $@

.env:
	cp .env.example .env

setup: $(VENV)/.installed .env ## Create .venv, .env with a fresh APP_KEY, and the SQLite tables
	@grep -qE '^APP_KEY=.+' .env || $(ARTISAN) key:generate
	@$(ARTISAN) migrate

migrate: $(VENV)/.installed .env ## Run the database migrations
	$(ARTISAN) migrate

# Two test processes (pytest-xdist), a file each at a time: most tests wait on real servers and
# worker processes, so two overlap well on two cores. Each process starts its own servers.
TEST_PROCESSES ?= 2

test: $(VENV)/.installed ## Run the whole test suite (TEST_PROCESSES=1 for one process)
	$(PY) -m pytest -n $(TEST_PROCESSES) --dist loadfile $(ARGS)

lint: $(VENV)/.installed ## Lint (ruff) and type-check (mypy, strict on the public modules); settings in pyproject.toml
	$(PY) -m ruff check .
	$(PY) -m mypy

bench: $(VENV)/.installed ## Run the benchmarks (prints jobs/s, latency, RSS, metrics overhead)
	$(PY) -m bench $(ARGS)
	$(PY) -m bench.metrics_overhead
	$(PY) -m bench.audit_overhead
	$(PY) -m bench.dashboard
	$(PY) -m bench.horizon_autoscale

queue-work: setup ## Start a worker (QUEUE=high,default to choose queues)
	$(ARTISAN) queue:work --queue=$(QUEUE) $(ARGS)

queue-work-emails: setup ## Start a worker on the emails queue
	$(ARTISAN) queue:work --queue=emails $(ARGS)

queue-failed: setup ## List failed jobs
	$(ARTISAN) queue:failed

queue-retry-failed: setup ## Retry all failed jobs
	$(ARTISAN) queue:retry all

queue-restart: setup ## Ask running workers to exit after their current job
	$(ARTISAN) queue:restart

queue-listen: setup ## Process jobs, each in a fresh process (picks up code changes while developing)
	$(ARTISAN) queue:listen --queue=$(QUEUE) $(ARGS)

queue-stats: setup ## Show pending, delayed, reserved, failed and jobs/min per queue
	$(ARTISAN) queue:stats $(ARGS)

queue-clear: setup ## Delete every job of QUEUE (asks first; FORCE=1 skips the question)
	$(ARTISAN) queue:clear --queue=$(QUEUE)$(if $(filter 1,$(FORCE)), --force,) $(ARGS)

queue-metrics: setup ## Per job class: count, average and p95 run time, success rate
	$(ARTISAN) queue:metrics $(ARGS)

queue-health: setup ## Check APP_KEY, migrations, connections and worker heartbeats (exit 1 on a problem)
	$(ARTISAN) queue:health $(ARGS)

queue-top: setup ## Live view of queues and running jobs per worker (q quits)
	$(ARTISAN) queue:top $(ARGS)

queue-dashboard: setup ## Serve the web dashboard on http://127.0.0.1:8000/horizon (HOST=, PORT= to change)
	$(ARTISAN) queue:dashboard --host=$(or $(HOST),127.0.0.1) --port=$(or $(PORT),8000) $(ARGS)

schedule-work: setup ## Run the scheduler (routes/console.py) in the foreground, every minute
	$(ARTISAN) schedule:work $(ARGS)

schedule-list: setup ## List scheduled events with their next due time and last result
	$(ARTISAN) schedule:list $(ARGS)

bench-procrastinate: $(VENV)/.installed ## PostgreSQL driver vs procrastinate, one run (procrastinate in its own venv)
	bench/peers/procrastinate.sh $(ARGS)

horizon: setup ## Run the horizon master: workers per config/horizon.py, balanced and restarted (APP_ENV picks the block)
	$(ARTISAN) horizon $(ARGS)

horizon-status: setup ## Show whether horizon is running, paused or inactive (exit 0 only when running)
	$(ARTISAN) horizon:status

horizon-terminate: setup ## Stop horizon gracefully (running jobs finish); run it on deploy
	$(ARTISAN) horizon:terminate $(ARGS)

bench-peers: $(VENV)/.installed ## Compare with RQ, Celery, Dramatiq, arq, Huey in one run (../shared/bench-peers)
	bench/peers/run.sh $(ARGS)
