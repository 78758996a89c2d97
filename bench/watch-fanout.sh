#!/usr/bin/env bash
# Watch fan-out, AkkaKv beside etcd 3.4 in one run, with one client (issue 16):
#   1. a three-member etcd cluster (Debian's etcd-server), then
#   2. a three-node AkkaKv cluster (scripts/local-cluster.sh, --sync full, etcd API on the client ports),
# each driven by bench/KvCluster.WatchBench: WATCHERS watchers of one prefix (one Watch stream each, spread over the
# three members and CONNS connections), one writer putting 256 B values under the prefix for DURATION seconds (closed
# loop, or RATE puts/s), each value carrying its send time. Per system it prints events delivered per second, the
# put-to-event latency p50/p99/max (and the second of the run the slowest event's put was sent in) and the writer's put
# round trip p50/p99/max (a slow commit and a slow fan-out look alike in put-to-event), then one JSON line, then the servers' CPU (all three members, from /proc) per
# delivered event; the last line compares them:
#   vs etcd: events/s xR, p99 put-to-event A ms vs B ms, servers' CPU per event C us vs D us
# One system at a time, on loopback; the whole script is bounded (timeouts on every step).
#
# Each system first gets one discarded run of WARMUP seconds with the same watchers and writer (the .NET nodes' JIT
# tiering otherwise lands in the measurement: measured 12 puts/s over a cold 10 s against 31.5/s over 25 s; after a
# 10 s warm-up the JIT still took 12.6% of the nodes' CPU samples in the measured window, after 30 s 2.1%).
# Environment: WATCHERS (1000), CONNS (30), DURATION (10), WARMUP (30; 0: none), RATE (200 puts/s, the same offered load for both; 0: one
#              closed-loop writer, whose rate then follows each system's put latency), BASE_PORT (25379; etcd members
#              BASE+0/1, +10/11, +20/21), AKKAKV_PORT (26054), AKKAKV_CLIENT_PORT (26379), SKIP_BUILD (1: use the
#              existing Release builds), TARGETS ("etcd akkakv"), OUT (a file that receives the JSON lines; optional).
set -euo pipefail
cd "$(dirname "$0")/.."

WATCHERS="${WATCHERS:-1000}"
CONNS="${CONNS:-30}"
DURATION="${DURATION:-10}"
WARMUP="${WARMUP:-30}"
RATE="${RATE:-200}"
BASE_PORT="${BASE_PORT:-25379}"
AKKAKV_PORT="${AKKAKV_PORT:-26054}"
AKKAKV_CLIENT_PORT="${AKKAKV_CLIENT_PORT:-26379}"
TARGETS="${TARGETS:-etcd akkakv}"
TOOL=bench/KvCluster.WatchBench/bin/Release/net10.0/KvCluster.WatchBench.dll

log() { echo "[watch-fanout] $*" >&2; }

workdir="$(mktemp -d -t kv-watch-fanout-XXXXXX)"
source bench/lib/clusters.sh
bench_ensure_etcd
bench_build bench/KvCluster.WatchBench KvCluster.Node
cleanup() { bench_clusters_down; rm -rf "$workdir"; }
trap cleanup EXIT

warm_up() { # name endpoints: the same run for WARMUP seconds, its output discarded
  [ "$WARMUP" -gt 0 ] || return 0
  log "$1: warm-up run of ${WARMUP} s (discarded)"
  timeout $((WARMUP + 180)) dotnet "$TOOL" --name "$1-warmup" --endpoints "$2" --watchers "$WATCHERS" --conns "$CONNS" \
    --duration "$WARMUP" --rate "$RATE" >/dev/null 2>&1 || true
}

run_tool() { # name endpoints server-pid...: the run, then the servers' CPU per delivered event over it
  local line name="$1" endpoints="$2" before after
  shift 2
  before="$(bench_cpu_seconds "$@")"
  line="$(timeout $((DURATION + 180)) dotnet "$TOOL" --name "$name" --endpoints "$endpoints" --watchers "$WATCHERS" --conns "$CONNS" \
    --duration "$DURATION" --rate "$RATE" 2>"$workdir/$name.err" || true)"
  after="$(bench_cpu_seconds "$@")"
  [ -n "$line" ] || { log "$name: the watch bench printed nothing: $(tail -n 3 "$workdir/$name.err")"; return 1; }
  echo "$line" | head -n 1
  echo "$line" | tail -n 1 >"$workdir/$name.json"
  [ -n "${OUT:-}" ] && tail -n 1 <<<"$line" >>"$OUT"
  # The run's whole server CPU (watch set-up included) over the events it delivered.
  python3 - "$workdir/$name.json" "$before" "$after" <<'PY'
import json, sys
path = sys.argv[1]; r = json.load(open(path)); cpu = float(sys.argv[3]) - float(sys.argv[2])
r["serverCpuSeconds"] = round(cpu, 2)
r["serverUsPerEvent"] = round(cpu * 1e6 / r["eventsDelivered"], 2) if r["eventsDelivered"] else None
json.dump(r, open(path, "w"))
print(f"{r['name']}: servers' CPU {cpu:.2f} s over the run (watch set-up included), {r['serverUsPerEvent']} us per delivered event")
PY
  return 0
}

if [[ " $TARGETS " == *" etcd "* ]]; then
  etcd_up "$BASE_PORT" watch-fanout
  warm_up etcd "$ETCD_ENDPOINTS"
  run_tool etcd "$ETCD_ENDPOINTS" "${ETCD_PIDS[@]}" || true
  etcd_down
fi

if [[ " $TARGETS " == *" akkakv "* ]]; then
  akkakv_up
  warm_up akkakv "$AKKAKV_ENDPOINTS"
  run_tool akkakv "$AKKAKV_ENDPOINTS" "${AKKAKV_PIDS[@]}" || true
  akkakv_down
fi

if [ -f "$workdir/etcd.json" ] && [ -f "$workdir/akkakv.json" ]; then
  python3 - "$workdir/akkakv.json" "$workdir/etcd.json" <<'PY'
import json, sys
a = json.load(open(sys.argv[1])); e = json.load(open(sys.argv[2]))
ratio = a["eventsPerSecond"] / e["eventsPerSecond"] if e["eventsPerSecond"] else float("nan")
print(f"vs etcd: events/s x{ratio:.2f}, p99 put-to-event {a['p99Ms']} ms vs {e['p99Ms']} ms, servers' CPU per event {a['serverUsPerEvent']} us vs {e['serverUsPerEvent']} us")
PY
fi
