# smctl — see README.md. All targets work from a fresh clone.
GO ?= go

.PHONY: all build demo test bench static clean mutate

all: build

build:
	CGO_ENABLED=0 $(GO) build -trimpath -o smctl ./cmd/smctl

# The main job on the embedded default.
demo:
	$(GO) run ./cmd/smctl demo

# Every test: vet, the libraries under the race detector, the testscripts.
test:
	$(GO) vet ./...
	$(GO) test -race ./pkg/... ./internal/...
	$(GO) test ./cmd/...

# Go benchmarks of the tree and the SSH transport; bench/run.sh compares
# whole tools (smctl, a bare client, pdsh, clush, pssh, ipmipower).
bench:
	$(GO) test -run '^$$' -bench . -benchtime 10x ./pkg/vtree/ ./pkg/vtree/vfs/ ./pkg/sshx/ ./pkg/fanout/

# Mutation testing of the core packages (slow: not part of test): the score
# per package and the surviving mutants; see mutate/README.md. A subset:
# make mutate MUTATE_PKGS="pkg/nodeset pkg/creds".
mutate:
	GO=$(GO) bash mutate/run.sh $(MUTATE_PKGS)

# Fails unless the binary is statically linked.
static: build
	@if readelf -l smctl | grep -q INTERP; then echo "smctl is dynamically linked" >&2; exit 1; fi
	@echo "smctl is static"

clean:
	rm -f smctl
