#!/bin/sh
# bench/run.sh [flags] — the SSH fan-out benchmark (see bench/main.go):
# smctl against a bare x/crypto/ssh client and, where installed, pdsh, clush
# and pssh, over 2000 simulated nodes and a real sshd on 127.0.0.1.
set -e
cd "$(dirname "$0")/.."
exec go run ./bench "$@"
