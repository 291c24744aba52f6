#!/bin/sh
# bench/run.sh [flags] — the SSH fan-out benchmark (see bench/main.go):
# smctl against a bare x/crypto/ssh client and, where installed, pdsh, clush
# and pssh, over 2000 simulated nodes and a real sshd on 127.0.0.1; the
# ipmi suite; the mem suite (bench/mem.go: peak RSS of write and cat -b of
# 1 MiB from each of 2000 nodes); the tree suite (bench/tree.go: the Go
# benchmarks of pkg/vtree); the cp suite (bench/cp.go: a 10 MiB file to
# 200 nodes by smctl cp, clush --copy and pdcp); the store suite
# (bench/store.go: the tree's cost per node, issue 10, on 2000 nodes of
# bench/cheapsshd, a server cheaper per session than its clients: the
# steady-state and first write against the bare client, find and cat of
# the written tree, system calls per node under strace -f -c); the serve
# suite (bench/serve.go: a write through smctl serve's warm connections
# against the same without it and a bare client's open connections, and
# serve's memory and idle CPU); the linux suite (bench/linux.go: the linux
# driver's stats/cpu, services/sshd/state and processes/index on 2000
# simulated nodes against write of the equivalent command). One suite:
# bench/run.sh -suite mem; several: -suite ssh,tree.
#
# Before/after a change, in one run: -before REV builds smctl and the
# pkg/vtree benchmarks at git revision REV too and measures them
# interleaved with the work tree's, with the ratios work tree / REV:
#
#   bench/run.sh -suite ssh,tree -before d1c6b6d
#   bench/run.sh -suite store -before d1c6b6d
#
# (the ssh suite: the 2000-node vmstat row "smctl@REV" next to "smctl",
# each with its ratio to the baseline, and "smctl / smctl@REV" under the
# table; the tree suite: median ns/op, B/op, allocs/op per benchmark at
# REV and in the work tree, and their ratio; the store suite: every row at
# REV too, with its ratio now / REV.) -tree-count N for more runs.
set -e
cd "$(dirname "$0")/.."
exec go run ./bench "$@"
