# kindling: `make demo` runs it, `make test` tests it. See README.md.
IMAGE        ?= kindling:latest
PYTHON       ?= python3
VENV         ?= .venv
PORT         ?= 8080
BUILD_NETWORK ?= host
# Debian's docker CLI has BuildKit; other CLIs on PATH may not.
DOCKER       ?= $(shell [ -x /usr/bin/docker ] && echo /usr/bin/docker || echo docker)
COMPOSE      ?= $(shell if $(DOCKER) compose version >/dev/null 2>&1; then echo "$(DOCKER) compose"; else echo docker-compose; fi)
COMPOSE_FILES ?= -f docker-compose.yml
# A TLS-intercepting proxy's CA bundle, if any, reaches pip as a build secret, never as a layer.
comma := ,
BUILD_SECRET := $(if $(PIP_CERT),--secret id=pip_cert$(comma)src=$(PIP_CERT))
PYTEST       := $(VENV)/bin/python -m pytest

.PHONY: build test test-unit test-image demo demo-down lock venv clean openapi bench

venv: $(VENV)/.installed
$(VENV)/.installed: docker/requirements.lock tests/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --require-hashes --no-deps -r docker/requirements.lock
	$(VENV)/bin/pip install -q -r tests/requirements.txt
	touch $@

build:
	DOCKER_BUILDKIT=1 $(DOCKER) build --network $(BUILD_NETWORK) $(BUILD_SECRET) -f docker/Dockerfile -t $(IMAGE) .

# Every tier: unit + contract (no Docker) and image (the built image, real HTTP on localhost).
test: venv
	@if $(DOCKER) info >/dev/null 2>&1; then $(MAKE) --no-print-directory build; \
	 else echo "make test: no Docker engine answers; image tests will be skipped (REQUIRE_DOCKER=1 fails them)"; fi
	KINDLING_IMAGE=$(IMAGE) $(PYTEST) tests

# The quick tiers: no Docker and nothing over 10 s (`make test` runs those too).
test-unit: venv
	$(PYTEST) -m "not image and not slow" -n auto tests

test-image: venv build
	KINDLING_IMAGE=$(IMAGE) $(PYTEST) -m image tests

# Build, train on the baked-in sample, serve on localhost:$(PORT), print a request to try.
demo: build
	$(COMPOSE) $(COMPOSE_FILES) up -d --no-build
	@echo "waiting for http://localhost:$(PORT)/ping ..."
	@for i in $$(seq 1 90); do \
	  if $(VENV)/bin/python -c "import urllib.request; urllib.request.urlopen('http://localhost:$(PORT)/ping', timeout=2)" 2>/dev/null \
	     || python3 -c "import urllib.request; urllib.request.urlopen('http://localhost:$(PORT)/ping', timeout=2)" 2>/dev/null; then \
	    echo "kindling is serving on http://localhost:$(PORT). Try:"; \
	    echo "  curl -s -X POST http://localhost:$(PORT)/invocations -H 'Content-Type: application/json' \\"; \
	    echo "       -d '{\"instances\": [\"a gripping, beautifully acted film\"], \"configuration\": {\"k\": 2}}'"; \
	    echo "Stop it with: make demo-down"; exit 0; fi; sleep 2; done; \
	  echo "the demo did not answer within 180 s; logs:"; $(COMPOSE) $(COMPOSE_FILES) logs --tail 50; exit 1

demo-down:
	$(COMPOSE) $(COMPOSE_FILES) down -v

# Regenerate docker/requirements.lock (exact versions + hashes) from docker/requirements.in.
# Run with the image's Python minor version (3.11).
lock:
	$(PYTHON) -m venv .cache/lockenv
	.cache/lockenv/bin/pip install -q pip-tools
	.cache/lockenv/bin/pip-compile --quiet --generate-hashes --allow-unsafe --strip-extras --no-header \
	  --no-emit-index-url --no-emit-find-links -o docker/requirements.lock docker/requirements.in

# Serving speed and memory against a bare Flask baseline, training and prediction against plain fastText
# (needs wrk); word vectors against plain fastText and gensim on a >= 50 MB corpus cut from Debian
# packages (apt-get download); entity annotation throughput and KB memory; writes reports/bench.json,
# bench-classification.json, bench-embeddings.json, bench-entities.json.
bench: venv build
	@command -v wrk >/dev/null || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && apt-get install -y -qq wrk >/dev/null; } || true
	KINDLING_IMAGE=$(IMAGE) $(VENV)/bin/python -m tests.bench.serving
	KINDLING_IMAGE=$(IMAGE) $(VENV)/bin/python -m tests.bench.classification
	KINDLING_IMAGE=$(IMAGE) $(VENV)/bin/python -m tests.bench.embeddings
	KINDLING_IMAGE=$(IMAGE) $(VENV)/bin/python -m tests.bench.entities
	KINDLING_IMAGE=$(IMAGE) $(VENV)/bin/python -m tests.bench.scaling

# Push the built image to ECR: make push ECR_IMAGE=123456789012.dkr.ecr.us-east-1.amazonaws.com/kindling:1
push: build venv
	@test -n "$(ECR_IMAGE)" || { echo "set ECR_IMAGE=<account>.dkr.ecr.<region>.amazonaws.com/<repo>:<tag>"; exit 2; }
	$(VENV)/bin/python -m container launch push --local-image $(IMAGE) --image $(ECR_IMAGE)

# Regenerate the shipped API description from the schemas the server validates with.
openapi: venv
	$(VENV)/bin/python -m serve.api > docs/openapi.json

clean:
	rm -rf $(VENV) .cache .pytest_cache
