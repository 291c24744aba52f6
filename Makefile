# smctl — see README.md. All targets work from a fresh clone.
GO ?= go
# The binary build makes, and the directory make man writes the pages to.
BIN ?= smctl
MAN_OUT ?= man
RUN_BIN = $(if $(findstring /,$(BIN)),$(BIN),./$(BIN))
# Where make install puts things: $(DESTDIR)$(PREFIX)/bin/smctl, the man
# pages in share/man/man1, the completions where bash-completion, zsh and
# fish look for them, the systemd user unit of smctl serve in
# lib/systemd/user.
PREFIX ?= /usr/local
DESTDIR ?=
BINDIR ?= $(PREFIX)/bin
DATADIR ?= $(PREFIX)/share
MANDIR ?= $(DATADIR)/man
BASHCOMPDIR ?= $(DATADIR)/bash-completion/completions
ZSHCOMPDIR ?= $(DATADIR)/zsh/site-functions
FISHCOMPDIR ?= $(DATADIR)/fish/vendor_completions.d
SYSTEMDUSERDIR ?= $(PREFIX)/lib/systemd/user

.PHONY: all build man install uninstall demo test bench static clean mutate

all: build

build:
	CGO_ENABLED=0 $(GO) build -trimpath -o $(BIN) ./cmd/smctl

# Man pages, smctl.1 and smctl-VERB.1 for every verb, generated from the
# command tree (internal/mangen), dated from the last commit when there is
# one ($SOURCE_DATE_EPOCH overrides) so that the same tree makes the same
# pages. Generated, not committed: ./man is in .gitignore.
man:
	@mkdir -p $(MAN_OUT)
	rm -f $(MAN_OUT)/smctl*.1
	SOURCE_DATE_EPOCH="$${SOURCE_DATE_EPOCH:-$$(git log -1 --format=%ct 2>/dev/null)}" $(GO) run ./internal/mangen $(MAN_OUT)

# make install PREFIX=/usr/local (the default) DESTDIR=/tmp/pkg (staging):
# the binary, the man pages, the bash, zsh and fish completions and the
# systemd user unit of smctl serve.
install: build man
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 \
		$(DESTDIR)$(BASHCOMPDIR) $(DESTDIR)$(ZSHCOMPDIR) $(DESTDIR)$(FISHCOMPDIR) \
		$(DESTDIR)$(SYSTEMDUSERDIR)
	install -m 0755 $(BIN) $(DESTDIR)$(BINDIR)/smctl
	sed 's#@BINDIR@#$(BINDIR)#' contrib/systemd/smctl-serve.service >$(DESTDIR)$(SYSTEMDUSERDIR)/smctl-serve.service
	chmod 0644 $(DESTDIR)$(SYSTEMDUSERDIR)/smctl-serve.service
	install -m 0644 $(MAN_OUT)/smctl*.1 $(DESTDIR)$(MANDIR)/man1/
	$(RUN_BIN) completion bash >$(DESTDIR)$(BASHCOMPDIR)/smctl
	$(RUN_BIN) completion zsh >$(DESTDIR)$(ZSHCOMPDIR)/_smctl
	$(RUN_BIN) completion fish >$(DESTDIR)$(FISHCOMPDIR)/smctl.fish
	chmod 0644 $(DESTDIR)$(BASHCOMPDIR)/smctl $(DESTDIR)$(ZSHCOMPDIR)/_smctl $(DESTDIR)$(FISHCOMPDIR)/smctl.fish

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/smctl $(DESTDIR)$(MANDIR)/man1/smctl.1 $(DESTDIR)$(MANDIR)/man1/smctl-*.1 \
		$(DESTDIR)$(BASHCOMPDIR)/smctl $(DESTDIR)$(ZSHCOMPDIR)/_smctl $(DESTDIR)$(FISHCOMPDIR)/smctl.fish \
		$(DESTDIR)$(SYSTEMDUSERDIR)/smctl-serve.service

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
	@if readelf -l $(BIN) | grep -q INTERP; then echo "smctl is dynamically linked" >&2; exit 1; fi
	@echo "smctl is static"

clean:
	rm -f $(BIN) $(MAN_OUT)/smctl*.1
