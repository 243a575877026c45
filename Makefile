# Cache Workshop. Two commands do everything: `make run` and `make test`.
GO ?= go
PKGS := ./...

.PHONY: run run-many build test test-short vet fmt bench e2e clean

## run: serve the workshop on http://127.0.0.1:8080 (ADDR, REDIS_URL, ... override)
run:
	$(GO) run .

## run-many: three instances (ports 8081-8083, one database, one Redis)
## behind nginx on http://127.0.0.1:8080, as a load balancer and shared
## HTTP cache (deploy/nginx.conf). Needs nginx: apt-get install nginx.
run-many:
	deploy/run-many

## build: compile the server to ./cacheworkshop
build:
	$(GO) build -o cacheworkshop .

## test: gofmt and vet checks, then every test with the race detector.
## Real-Redis tests skip with a message when redis-server is missing
## (REQUIRE_REDIS=1 or, for the cluster ones, REQUIRE_CLUSTER=1 makes that
## a failure); browser tests likewise with Chromium (REQUIRE_BROWSER=1),
## and nginx (REQUIRE_NGINX=1).
test: vet
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed on:"; echo "$$unformatted"; exit 1; fi
	@command -v redis-server >/dev/null 2>&1 || echo "make test: real-Redis tests will be SKIPPED (apt-get install redis-server)"
	@command -v redis-cli >/dev/null 2>&1 || echo "make test: Redis Cluster tests will be SKIPPED (redis-cli, from apt-get install redis-server)"
	@command -v chromium >/dev/null 2>&1 || echo "make test: browser tests will be SKIPPED (apt-get install chromium)"
	@command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || echo "make test: nginx tests will be SKIPPED (apt-get install nginx)"
	$(GO) test -race -count=1 -timeout 30m $(PKGS)

test-short:
	$(GO) test -short -count=1 $(PKGS)

vet:
	$(GO) vet $(PKGS)

fmt:
	gofmt -w $$(git ls-files '*.go')

## bench: load-test the server and print one table measured in one run
bench:
	$(GO) run ./bench

## e2e: only the headless-Chromium tests
e2e:
	$(GO) test -count=1 -v ./e2e/

clean:
	rm -rf data cacheworkshop e2e/screenshots bench/out
