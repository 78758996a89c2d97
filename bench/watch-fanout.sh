#!/usr/bin/env bash
# Watch fan-out, AkkaKv beside etcd 3.4 in one run, with one client (issue 16):
#   1. a three-member etcd cluster (Debian's etcd-server), then
#   2. a three-node AkkaKv cluster (scripts/local-cluster.sh, --sync full, etcd API on the client ports),
# each driven by bench/KvCluster.WatchBench: WATCHERS watchers of one prefix (one Watch stream each, spread over the
# three members and CONNS connections), one writer putting 256 B values under the prefix for DURATION seconds (closed
# loop, or RATE puts/s), each value carrying its send time. Per system it prints events delivered per second and the
# put-to-event latency p50/p99/max, then one JSON line; the last line compares them:
#   vs etcd: events/s xR, p99 put-to-event A ms vs B ms
# One system at a time, on loopback; the whole script is bounded (timeouts on every step).
#
# Environment: WATCHERS (1000), CONNS (30), DURATION (10), RATE (200 puts/s, the same offered load for both; 0: one
#              closed-loop writer, whose rate then follows each system's put latency), BASE_PORT (25379; etcd members
#              BASE+0/1, +10/11, +20/21), AKKAKV_PORT (26054), AKKAKV_CLIENT_PORT (26379), SKIP_BUILD (1: use the
#              existing Release builds), TARGETS ("etcd akkakv"), OUT (a file that receives the JSON lines; optional).
set -euo pipefail
cd "$(dirname "$0")/.."

WATCHERS="${WATCHERS:-1000}"
CONNS="${CONNS:-30}"
DURATION="${DURATION:-10}"
RATE="${RATE:-200}"
BASE_PORT="${BASE_PORT:-25379}"
AKKAKV_PORT="${AKKAKV_PORT:-26054}"
AKKAKV_CLIENT_PORT="${AKKAKV_CLIENT_PORT:-26379}"
TARGETS="${TARGETS:-etcd akkakv}"
TOOL=bench/KvCluster.WatchBench/bin/Release/net10.0/KvCluster.WatchBench.dll

log() { echo "[watch-fanout] $*" >&2; }

command -v etcd >/dev/null 2>&1 || { log "installing etcd-server (apt-get)"; apt-get update -qq && apt-get install -y -qq etcd-server >/dev/null; }
if [ "${SKIP_BUILD:-0}" = 1 ] && [ -f "$TOOL" ] && [ -f KvCluster.Node/bin/Release/net10.0/KvCluster.Node.dll ]; then
  log "SKIP_BUILD=1: using the existing Release builds"
else
  log "building the watch bench and the AkkaKv node (Release)"
  timeout 900 dotnet build bench/KvCluster.WatchBench -c Release -v quiet -nologo >/dev/null
  timeout 900 dotnet build KvCluster.Node -c Release -v quiet -nologo >/dev/null
fi

workdir="$(mktemp -d -t kv-watch-fanout-XXXXXX)"
pids=()
akkakv_running=0
stop_etcd() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  pids=()
}
stop_akkakv() {
  if [ "$akkakv_running" = 1 ]; then
    DATA="$workdir/akkakv" BASE_PORT="$AKKAKV_PORT" CLIENT_BASE="$AKKAKV_CLIENT_PORT" LIGHTHOUSE=0 scripts/local-cluster.sh down >/dev/null 2>&1 || true
    akkakv_running=0
  fi
}
cleanup() { stop_etcd; stop_akkakv; rm -rf "$workdir"; }
trap cleanup EXIT

await_health() { # endpoints...: waits until every /health says true
  local healthy url
  for _ in $(seq 1 120); do
    healthy=0
    for url in "$@"; do
      if curl -fsS --max-time 2 "http://$url/health" 2>/dev/null | grep -q '"health":"true"'; then healthy=$((healthy + 1)); fi
    done
    [ "$healthy" -eq "$#" ] && return 0
    sleep 0.5
  done
  return 1
}

run_tool() { # name endpoints
  local line
  line="$(timeout $((DURATION + 180)) dotnet "$TOOL" --name "$1" --endpoints "$2" --watchers "$WATCHERS" --conns "$CONNS" \
    --duration "$DURATION" --rate "$RATE" 2>"$workdir/$1.err" || true)"
  [ -n "$line" ] || { log "$1: the watch bench printed nothing: $(tail -n 3 "$workdir/$1.err")"; return 1; }
  echo "$line" | head -n 1
  echo "$line" | tail -n 1 >"$workdir/$1.json"
  [ -n "${OUT:-}" ] && tail -n 1 <<<"$line" >>"$OUT"
  return 0
}

if [[ " $TARGETS " == *" etcd "* ]]; then
  cluster=""; urls=()
  for i in 0 1 2; do cluster+="${cluster:+,}m$i=http://127.0.0.1:$((BASE_PORT + i * 10 + 1))"; urls+=("127.0.0.1:$((BASE_PORT + i * 10))"); done
  for i in 0 1 2; do
    client="http://127.0.0.1:$((BASE_PORT + i * 10))"; peer="http://127.0.0.1:$((BASE_PORT + i * 10 + 1))"
    etcd --name "m$i" --data-dir "$workdir/m$i" --listen-client-urls "$client" --advertise-client-urls "$client" \
      --listen-peer-urls "$peer" --initial-advertise-peer-urls "$peer" --initial-cluster "$cluster" \
      --initial-cluster-token watch-fanout --initial-cluster-state new --logger zap --log-outputs stderr --log-level warn \
      >"$workdir/m$i.log" 2>&1 &
    pids+=("$!")
  done
  await_health "${urls[@]}" || { log "etcd did not become healthy within 60 s"; exit 3; }
  log "etcd up: $(IFS=,; echo "${urls[*]}")"
  run_tool etcd "$(IFS=,; echo "${urls[*]}")" || true
  stop_etcd
fi

if [[ " $TARGETS " == *" akkakv "* ]]; then
  if ! DATA="$workdir/akkakv" BASE_PORT="$AKKAKV_PORT" CLIENT_BASE="$AKKAKV_CLIENT_PORT" PBM_BASE=0 SKIP_BUILD=1 SYNC=full UP_TIMEOUT=60 \
      LIGHTHOUSE=0 scripts/local-cluster.sh up >"$workdir/akkakv-up.out" 2>"$workdir/akkakv-up.err"; then
    akkakv_running=1
    log "AkkaKv did not come up: $(tail -n 5 "$workdir/akkakv-up.err")"; exit 3
  fi
  akkakv_running=1
  urls=("127.0.0.1:$AKKAKV_CLIENT_PORT" "127.0.0.1:$((AKKAKV_CLIENT_PORT + 1))" "127.0.0.1:$((AKKAKV_CLIENT_PORT + 2))")
  await_health "${urls[@]}" || { log "AkkaKv did not become healthy within 60 s"; exit 3; }
  log "AkkaKv up: $(IFS=,; echo "${urls[*]}")"
  run_tool akkakv "$(IFS=,; echo "${urls[*]}")" || true
  stop_akkakv
fi

if [ -f "$workdir/etcd.json" ] && [ -f "$workdir/akkakv.json" ]; then
  python3 - "$workdir/akkakv.json" "$workdir/etcd.json" <<'PY'
import json, sys
a = json.load(open(sys.argv[1])); e = json.load(open(sys.argv[2]))
ratio = a["eventsPerSecond"] / e["eventsPerSecond"] if e["eventsPerSecond"] else float("nan")
print(f"vs etcd: events/s x{ratio:.2f}, p99 put-to-event {a['p99Ms']} ms vs {e['p99Ms']} ms")
PY
fi
