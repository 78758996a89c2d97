#!/usr/bin/env bash
# Lease churn, AkkaKv beside etcd 3.4, with one driver: `kv lease bench` (Grpc.Net.Client over the etcd v3 API).
#
# In one run, one system after the other (never both at once), on loopback, fsync on, data in a temporary directory:
#   1. a three-member etcd cluster (Debian's etcd-server);
#   2. a three-node AkkaKv cluster (scripts/local-cluster.sh, --sync full, no lighthouse).
# Each gets the same workload: CLIENTS closed-loop clients over CONNS HTTP/2 connections spread over the members, each
# repeating grant (TTL 60, through the Raft log) -> KEEPALIVES keep-alives on one stream (to the leader's lessor, not
# logged) -> revoke (through the log); WARMUP discarded, then DURATION measured. One line per system:
#   etcd:   lease churn: G grants/s, K keep-alives/s, R revokes/s (...); grant p50/p99; keep-alive p50/p99; errors
#   akkakv: ...
# and the last line: `vs etcd: grants xA, keep-alives xB`.
#
# Environment: DURATION (10s), WARMUP (2s), CLIENTS (100), CONNS (10), KEEPALIVES (10), BASE_PORT (27579: etcd
# members use BASE+0/1, +10/11, +20/21), AKKAKV_PORT (27154), AKKAKV_CLIENT_PORT (27479), SKIP_BUILD (0; 1 uses the
# existing Release builds), TARGETS ("etcd akkakv"). Smoke test: DURATION=2s WARMUP=1s CLIENTS=4 CONNS=2 bench/lease-churn.sh
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION="${DURATION:-10s}"
WARMUP="${WARMUP:-2s}"
CLIENTS="${CLIENTS:-100}"
CONNS="${CONNS:-10}"
KEEPALIVES="${KEEPALIVES:-10}"
BASE_PORT="${BASE_PORT:-27579}"
AKKAKV_PORT="${AKKAKV_PORT:-27154}"
AKKAKV_CLIENT_PORT="${AKKAKV_CLIENT_PORT:-27479}"
TARGETS="${TARGETS:-etcd akkakv}"

log() { echo "[lease-churn] $*" >&2; }

if ! command -v etcd >/dev/null 2>&1 && [[ " $TARGETS " == *" etcd "* ]]; then
  log "installing etcd-server (apt-get)"
  apt-get update -qq && apt-get install -y -qq etcd-server >/dev/null
fi

if [ "${SKIP_BUILD:-0}" = 1 ] && [ -f KvCluster.Client/bin/Release/net10.0/kv.dll ] && [ -f KvCluster.Node/bin/Release/net10.0/KvCluster.Node.dll ]; then
  log "SKIP_BUILD=1: using the existing Release builds"
else
  log "building kv and the AkkaKv node (Release)"
  timeout 900 dotnet build KvCluster.Client -c Release -v quiet -nologo >/dev/null
  timeout 900 dotnet build KvCluster.Node -c Release -v quiet -nologo >/dev/null
fi
KV=(dotnet KvCluster.Client/bin/Release/net10.0/kv.dll)

workdir="$(mktemp -d -t kv-lease-churn-XXXXXX)"
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

start_etcd() {
  local cluster="" i client peer healthy url
  local -a urls=()
  for i in 0 1 2; do
    cluster+="${cluster:+,}m$i=http://127.0.0.1:$((BASE_PORT + i * 10 + 1))"
    urls+=("127.0.0.1:$((BASE_PORT + i * 10))")
  done
  for i in 0 1 2; do
    client="http://127.0.0.1:$((BASE_PORT + i * 10))"
    peer="http://127.0.0.1:$((BASE_PORT + i * 10 + 1))"
    etcd --name "m$i" --data-dir "$workdir/m$i" \
      --listen-client-urls "$client" --advertise-client-urls "$client" \
      --listen-peer-urls "$peer" --initial-advertise-peer-urls "$peer" \
      --initial-cluster "$cluster" --initial-cluster-token lease-churn --initial-cluster-state new \
      --logger zap --log-outputs stderr --log-level warn >"$workdir/m$i.log" 2>&1 &
    pids+=("$!")
  done
  endpoints="$(IFS=,; echo "${urls[*]}")"
  for _ in $(seq 1 120); do
    healthy=0
    for url in "${urls[@]}"; do
      curl -fsS --max-time 2 "http://$url/health" 2>/dev/null | grep -q '"health":"true"' && healthy=$((healthy + 1))
    done
    [ "$healthy" -eq 3 ] && return 0
    sleep 0.5
  done
  log "etcd did not become healthy within 60 s"; tail -n 5 "$workdir"/m*.log >&2; exit 3
}

start_akkakv() {
  if ! DATA="$workdir/akkakv" BASE_PORT="$AKKAKV_PORT" CLIENT_BASE="$AKKAKV_CLIENT_PORT" PBM_BASE=0 SKIP_BUILD=1 SYNC=full UP_TIMEOUT=60 \
      LIGHTHOUSE=0 scripts/local-cluster.sh up >/dev/null 2>"$workdir/akkakv-up.err"; then
    akkakv_running=1
    log "AkkaKv did not come up: $(tail -n 5 "$workdir/akkakv-up.err")"; exit 3
  fi
  akkakv_running=1
  endpoints="127.0.0.1:$AKKAKV_CLIENT_PORT,127.0.0.1:$((AKKAKV_CLIENT_PORT + 1)),127.0.0.1:$((AKKAKV_CLIENT_PORT + 2))"
  # Wait until the cluster grants a lease (a leader exists and the lessor leads).
  for _ in $(seq 1 60); do
    timeout 20 "${KV[@]}" lease grant 5 --endpoints "$endpoints" >/dev/null 2>&1 && return 0
    sleep 0.5
  done
  log "AkkaKv granted no lease within 30 s"; exit 3
}

field() { grep -o "\"$1\":[-0-9.e]*" <<<"$2" | head -n 1 | cut -d: -f2; }

declare -A json_of
measure() { # name
  local out
  out="$(timeout 300 "${KV[@]}" lease bench --endpoints "$endpoints" --clients "$CLIENTS" --conns "$CONNS" \
    --keepalives "$KEEPALIVES" --duration "$DURATION" --warmup "$WARMUP" -w json 2>>"$workdir/kv.err")"
  json_of[$1]="$out"
  echo "$1: $(field grants_per_s "$out") grants/s, $(field keepalives_per_s "$out") keep-alives/s, $(field revokes_per_s "$out") revokes/s;" \
    "grant p50 $(field grant_p50_ms "$out") ms p99 $(field grant_p99_ms "$out") ms; keep-alive p50 $(field keepalive_p50_ms "$out") ms" \
    "p99 $(field keepalive_p99_ms "$out") ms; errors $(field errors "$out") ($CLIENTS clients, $CONNS conns, $KEEPALIVES keep-alives per lease, $DURATION)"
}

for target in $TARGETS; do
  case "$target" in
    etcd) log "etcd: $(etcd --version | head -n 1)"; start_etcd; measure etcd; stop_etcd ;;
    akkakv) start_akkakv; measure akkakv; stop_akkakv ;;
    *) log "unknown target '$target' (etcd, akkakv)"; exit 2 ;;
  esac
done

if [ -n "${json_of[etcd]:-}" ] && [ -n "${json_of[akkakv]:-}" ]; then
  ratio() { awk -v a="$(field "$1" "${json_of[akkakv]}")" -v b="$(field "$1" "${json_of[etcd]}")" 'BEGIN { printf (b > 0 ? "%.2f" : "n/a"), (b > 0 ? a / b : 0) }'; }
  echo "vs etcd: grants x$(ratio grants_per_s), keep-alives x$(ratio keepalives_per_s)"
fi
