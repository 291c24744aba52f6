#!/bin/sh
# bench/run.sh [flags] — the SSH fan-out benchmark (see bench/main.go):
# smctl against a bare x/crypto/ssh client and, where installed, pdsh, clush
# and pssh, over 2000 simulated nodes and a real sshd on 127.0.0.1; the
# ipmi suite; the mem suite (bench/mem.go: peak RSS of write and cat -b of
# 1 MiB from each of 2000 nodes). One suite: bench/run.sh -suite mem
set -e
cd "$(dirname "$0")/.."
exec go run ./bench "$@"
