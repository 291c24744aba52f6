#!/usr/bin/env bash
# Mutation testing of smctl's core packages with gremlins (make mutate); see
# mutate/README.md. Slow, so not part of make test.
#
#   mutate/run.sh                    every core package, on the work tree
#   mutate/run.sh pkg/nodeset ...    only these packages
#   MUTATE_REV=HEAD mutate/run.sh    on a clean export of a commit instead of
#                                    the work tree (uncommitted edits left out)
#
# For each package: gremlins gathers the coverage of the package's own tests,
# mutates each covered token of its non-test files in a copy of the module and
# runs the package's tests on it. Each run keeps its raw results in its own
# directory, mutate/out/RUN/ (git-ignored; mutate/out/latest links to the
# newest), so runs at the same time do not mix: NAME.log (gremlins' output),
# NAME.json, NAME.time. At the end the report (score per package, surviving
# and timed-out mutants with their source lines) is printed and written to
# mutate/out/RUN/report.txt; a run over every core package also writes it to
# mutate/last-run.txt.
#
# Exit status: 0 when every package ran, 1 when gremlins failed on one (its
# tests fail or do not build unmutated: see its log).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

# The tool, fetched through the Go module proxy at a pinned version and built
# into the git-ignored mutate/out/bin.
gremlins_mod=github.com/go-gremlins/gremlins/cmd/gremlins
gremlins_version=v0.6.0

default_pkgs="pkg/vtree pkg/vtree/store pkg/vtree/ids pkg/vtree/vfs pkg/vtree/watch pkg/delegate pkg/discover pkg/nodeset pkg/creds pkg/trust pkg/sshx pkg/fanout pkg/agent"
pkgs=${*:-$default_pkgs}
run=$(date -u +%Y%m%dT%H%M%SZ)-$$
out=$root/mutate/out/$run
mkdir -p "$root/mutate/out/bin" "$out"
ln -sfn "$run" "$root/mutate/out/latest"

real_go=$(command -v "${GO:-go}") || { echo "mutate: ${GO:-go} is not in PATH" >&2; exit 2; }
GOBIN=$root/mutate/out/bin "$real_go" install "$gremlins_mod@$gremlins_version"

# Every mutant's test run is fresh (-count=1: no cached result of an earlier
# run), and go vet is off: a mutant is killed by a failing test, not by vet.
export GOFLAGS="${GOFLAGS:+$GOFLAGS }-count=1 -vet=off"
export MUTATE_REAL_GO=$real_go

src=$root
commit=$(git rev-parse HEAD)
tree="work tree"
if [ -n "${MUTATE_REV:-}" ]; then
	commit=$(git rev-parse --verify "$MUTATE_REV^{commit}")
	src=$(mktemp -d "${TMPDIR:-/tmp}/smctl-mutate-XXXXXX")
	trap 'rm -rf "$src"' EXIT
	git archive "$commit" | tar -x -C "$src"
	tree="clean export of the commit"
elif [ -n "$(git status --porcelain -- $pkgs)" ]; then
	tree="work tree, with uncommitted changes in these packages"
fi

status=0
start=$SECONDS
for p in $pkgs; do
	p=${p#./}
	p=${p%/}
	name=${p//\//_}
	echo "mutate: $p (log: mutate/out/$run/$name.log)"
	t0=$SECONDS
	# gremlins runs `go` from PATH: mutate/shim/go marks mutants that do
	# not compile as not viable instead of killed.
	if ! (cd "$src" && PATH=$root/mutate/shim:$PATH "$root/mutate/out/bin/gremlins" unleash \
		--config "$root/mutate/gremlins.yaml" \
		--output "$out/$name.json" \
		"./$p") >"$out/$name.log" 2>&1; then
		echo "mutate: $p: gremlins failed; see mutate/out/$run/$name.log" >&2
		tail -n 20 "$out/$name.log" >&2
		status=1
	fi
	echo $((SECONDS - t0)) >"$out/$name.time"
	grep -E 'Killed:|Timed out:|Test efficacy:' "$out/$name.log" | sed 's/^/  /' || true
done

workers=$(sed -n 's/^ *workers: *\([0-9]*\).*/\1/p' mutate/gremlins.yaml)
coef=$(sed -n 's/^ *timeout-coefficient: *\([0-9]*\).*/\1/p' mutate/gremlins.yaml)
args=(-src "$src" -out "$out" -commit "$(git log -1 --format='%H %s' "$commit")" -tree "$tree"
	-tool "gremlins $gremlins_version, config mutate/gremlins.yaml: $workers workers, each mutant's tests bounded by $coef x the package's coverage run"
	-seconds $((SECONDS - start)))
"$real_go" run "$root/mutate/summary.go" "${args[@]}" $pkgs >"$out/report.txt"
echo
cat "$out/report.txt"
if [ "$pkgs" = "$default_pkgs" ] && [ "$status" = 0 ]; then
	cp "$out/report.txt" "$root/mutate/last-run.txt"
	echo "mutate: report written to mutate/last-run.txt"
fi
exit "$status"
