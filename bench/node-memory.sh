#!/usr/bin/env bash
# What a node's RSS is made of after a put load: a three-node AkkaKv cluster (scripts/local-cluster.sh, fsync on),
# PUTS puts on KEYS keys from 1000 clients over 100 connections (`kv bench --target etcd`), then per node: RSS,
# anonymous and file-backed RSS, threads (/proc/<pid>/status), the GC's committed memory and last-collection heap
# sizes (dotnet-counters), and with GCDUMP=1 the live managed heap after a full GC and its largest objects
# (dotnet-gcdump). The runtime knobs under test go in the environment, which the nodes inherit, e.g.
#   MALLOC_ARENA_MAX=2 bench/node-memory.sh
#   DOTNET_GCConserveMemory=7 bench/node-memory.sh
#   NODE_ARGS="--snapshot-count 100000" bench/node-memory.sh
# Environment: PUTS (500000), KEYS (10000), GCDUMP (0), NODE_ARGS, BASE_PORT (28254), CLIENT_BASE (28579).
# Installs dotnet-counters / dotnet-gcdump 10.0.750501 as global tools when missing. Bounded: every step has a timeout.
set -euo pipefail
cd "$(dirname "$0")/.."
PUTS="${PUTS:-500000}"
KEYS="${KEYS:-10000}"
export DATA; DATA="$(mktemp -d -t kv-node-memory-XXXXXX)"
export BASE_PORT="${BASE_PORT:-28254}" CLIENT_BASE="${CLIENT_BASE:-28579}" PBM_BASE=0 LIGHTHOUSE=0 SKIP_BUILD="${SKIP_BUILD:-0}" SYNC=full
export NODE_ARGS="${NODE_ARGS:-}"
TOOLS="$HOME/.dotnet/tools"
for tool in dotnet-counters dotnet-gcdump; do
  [ -x "$TOOLS/$tool" ] || timeout 300 dotnet tool install -g "$tool" --version 10.0.750501 >/dev/null
done
cleanup() { scripts/local-cluster.sh down >/dev/null 2>&1 || true; rm -rf "$DATA"; }
trap cleanup EXIT
timeout 900 scripts/local-cluster.sh up >/dev/null
KV=(dotnet KvCluster.Client/bin/Release/net10.0/kv.dll)
endpoints="127.0.0.1:$CLIENT_BASE,127.0.0.1:$((CLIENT_BASE + 1)),127.0.0.1:$((CLIENT_BASE + 2))"
timeout 3600 "${KV[@]}" bench --target etcd --endpoints "$endpoints" --clients 1000 --conns 100 --total "$PUTS" \
  --key-space "$KEYS" --warmup 0 --output json | jq -r '"\(.requests) puts, \(.throughput)/s, \(.errors) errors"'
for i in 1 2 3; do
  pid="$(cat "$DATA/n$i.pid")"
  echo "node $i (pid $pid): $(awk '/^(VmRSS|RssAnon|RssFile|Threads):/ { printf "%s %s ", $1, ($1 == "Threads:" ? $2 : int($2 / 1024) " MiB") }' "/proc/$pid/status")"
  timeout 60 "$TOOLS/dotnet-counters" collect -p "$pid" --counters System.Runtime --duration 00:00:03 --format csv \
    -o "$DATA/counters$i.csv" >/dev/null 2>&1 || true
  awk -F, '/memory.committed_size|last_collection.heap.size/ { v[$3] = $NF } END { for (k in v) printf "  %s %d MiB\n", k, v[k] / 1048576 }' \
    "$DATA/counters$i.csv" 2>/dev/null | sort
  if [ "${GCDUMP:-0}" = 1 ]; then
    timeout 120 "$TOOLS/dotnet-gcdump" collect -p "$pid" -o "$DATA/n$i.gcdump" >/dev/null 2>&1 &&
      timeout 120 "$TOOLS/dotnet-gcdump" report "$DATA/n$i.gcdump" 2>/dev/null | head -n 12 | sed 's/^/  /'
  fi
done
