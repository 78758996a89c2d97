#!/usr/bin/env bash
# Lease churn, AkkaKv beside etcd 3.4, with one driver: `kv lease bench` (Grpc.Net.Client over the etcd v3 API).
#
# In one run, one system after the other (never both at once), on loopback, fsync on, data in a temporary directory:
#   1. a three-member etcd cluster (Debian's etcd-server);
#   2. a three-node AkkaKv cluster (scripts/local-cluster.sh, --sync full, no lighthouse).
# Each gets the same workload: CLIENTS closed-loop clients over CONNS HTTP/2 connections spread over the members, each
# repeating grant (TTL 60, through the Raft log) -> KEEPALIVES keep-alives on one stream (to the leader's lessor, not
# logged) -> revoke (through the log); WARMUP discarded, then DURATION measured (30 s of warm-up: the .NET nodes' JIT
# tiering otherwise lands in the measurement; on a quiet machine AkkaKv made 189 grants/s after 2 s of warm-up and
# 680/s after 30 s, etcd 849/s and 932/s). One line per system:
#   etcd:   lease churn: G grants/s, K keep-alives/s, R revokes/s (...); grant p50/p99; keep-alive p50/p99; errors
#   akkakv: ...
# and the last line: `vs etcd: grants xA, keep-alives xB`.
#
# Environment: DURATION (10s), WARMUP (30s), CLIENTS (100), CONNS (10), KEEPALIVES (10), BASE_PORT (27579: etcd
# members use BASE+0/1, +10/11, +20/21), AKKAKV_PORT (27154), AKKAKV_CLIENT_PORT (27479), SKIP_BUILD (0; 1 uses the
# existing Release builds), TARGETS ("etcd akkakv"). Smoke test: DURATION=2s WARMUP=1s CLIENTS=4 CONNS=2 bench/lease-churn.sh
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION="${DURATION:-10s}"
WARMUP="${WARMUP:-30s}"
CLIENTS="${CLIENTS:-100}"
CONNS="${CONNS:-10}"
KEEPALIVES="${KEEPALIVES:-10}"
BASE_PORT="${BASE_PORT:-27579}"
AKKAKV_PORT="${AKKAKV_PORT:-27154}"
AKKAKV_CLIENT_PORT="${AKKAKV_CLIENT_PORT:-27479}"
TARGETS="${TARGETS:-etcd akkakv}"

log() { echo "[lease-churn] $*" >&2; }

workdir="$(mktemp -d -t kv-lease-churn-XXXXXX)"
source bench/lib/clusters.sh
[[ " $TARGETS " == *" etcd "* ]] && bench_ensure_etcd
bench_build KvCluster.Client KvCluster.Node
KV=(dotnet KvCluster.Client/bin/Release/net10.0/kv.dll)
cleanup() { bench_clusters_down; rm -rf "$workdir"; }
trap cleanup EXIT

start_etcd() { etcd_up "$BASE_PORT" lease-churn; endpoints="$ETCD_ENDPOINTS"; }

start_akkakv() {
  akkakv_up
  endpoints="$AKKAKV_ENDPOINTS"
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
    etcd) log "etcd: $(etcd --version | head -n 1)"; start_etcd; measure etcd; etcd_down ;;
    akkakv) start_akkakv; measure akkakv; akkakv_down ;;
    *) log "unknown target '$target' (etcd, akkakv)"; exit 2 ;;
  esac
done

if [ -n "${json_of[etcd]:-}" ] && [ -n "${json_of[akkakv]:-}" ]; then
  ratio() { awk -v a="$(field "$1" "${json_of[akkakv]}")" -v b="$(field "$1" "${json_of[etcd]}")" 'BEGIN { printf (b > 0 ? "%.2f" : "n/a"), (b > 0 ? a / b : 0) }'; }
  echo "vs etcd: grants x$(ratio grants_per_s), keep-alives x$(ratio keepalives_per_s)"
fi
