#!/usr/bin/env bash
# Writes' tail latency while snapshots are taken (issue 17): `etcdctl check perf --load=LOAD` (etcdctl's own
# acceptance test: its clients put for 60 s at a fixed rate, then it reports the throughput, the slowest request and
# the standard deviation) against a three-member etcd 3.4 and a three-node AkkaKv, one after the other, each started
# fresh with --snapshot-count SNAPSHOT_COUNT so that several snapshots fall inside the run. With BEFORE_DLL (another
# build's KvCluster.Node.dll) AkkaKv runs twice per round, that node and this checkout's, so a change that touches
# snapshots is compared with what it replaces in one run. ROUNDS rounds, the systems alternating within each.
#
#   bench/snapshot-stall.sh
#   BEFORE_DLL=/tmp/before/KvCluster.Node/bin/Release/net10.0/KvCluster.Node.dll ROUNDS=3 bench/snapshot-stall.sh
#
# Per run it prints check perf's verdict lines and the snapshots taken: for AkkaKv from the nodes' logs (each
# "snapshot ... saved" line, with its serialize and store times), for etcd from its /metrics
# (etcd_debugging_snap_save_total_duration_seconds: count and sum over the members).
# Environment: TARGETS ("etcd akkakv"), LOAD (s: 50 clients, 150 puts/s; m: 200 clients, 1000 puts/s), SNAPSHOT_COUNT
#   (2000), ROUNDS (1), BEFORE_DLL, BASE_PORT (29979), AKKAKV_PORT (29654), AKKAKV_CLIENT_PORT (29779), SKIP_BUILD,
#   OUT (a file that receives the summary lines too). Each check perf is bounded (CHECK_TIMEOUT, 180 s).
set -euo pipefail
cd "$(dirname "$0")/.."

TARGETS="${TARGETS:-etcd akkakv}"
LOAD="${LOAD:-s}"
SNAPSHOT_COUNT="${SNAPSHOT_COUNT:-2000}"
ROUNDS="${ROUNDS:-1}"
BEFORE_DLL="${BEFORE_DLL:-}"
BASE_PORT="${BASE_PORT:-29979}"
AKKAKV_PORT="${AKKAKV_PORT:-29654}"
AKKAKV_CLIENT_PORT="${AKKAKV_CLIENT_PORT:-29779}"
CHECK_TIMEOUT="${CHECK_TIMEOUT:-180}"

log() { echo "[snapshot-stall] $*" >&2; }
summary=()
say() { summary+=("$*"); log "$*"; }

case "$LOAD" in s|m|l|xl) ;; *) echo "LOAD must be s, m, l or xl (etcdctl check perf --load), not '$LOAD'" >&2; exit 2 ;; esac
[ -z "$BEFORE_DLL" ] || [ -f "$BEFORE_DLL" ] || { echo "BEFORE_DLL $BEFORE_DLL does not exist" >&2; exit 2; }
command -v etcdctl >/dev/null || { echo "etcdctl is missing (apt-get install etcd-client)" >&2; exit 2; }

workdir="$(mktemp -d -t kv-snapshot-stall-XXXXXX)"
AKKAKV_NODE_ARGS="--snapshot-count $SNAPSHOT_COUNT"
ETCD_ARGS="--snapshot-count $SNAPSHOT_COUNT"
source bench/lib/clusters.sh
trap 'bench_clusters_down; rm -rf "$workdir"' EXIT
[[ " $TARGETS " == *" etcd "* ]] && bench_ensure_etcd
bench_build KvCluster.Node
AFTER_DLL="$AKKAKV_NODE_DLL"

# check perf against ENDPOINTS; prints its verdict lines joined by " | ".
check_perf() {
  ETCDCTL_API=3 timeout "$CHECK_TIMEOUT" etcdctl --endpoints "$1" check perf --load="$LOAD" 2>&1 \
    | tr '\r' '\n' | grep -oE '(PASS: |FAIL: )?(Throughput|Slowest|Stddev).*|^(PASS|FAIL)$' | paste -sd'|' | sed 's/|/ | /g' || true
}

run_etcd() {
  rm -rf "$workdir/etcd"
  etcd_up "$BASE_PORT" kv-snapshot-stall
  local verdict saves count sum url metrics
  verdict="$(check_perf "$ETCD_ENDPOINTS")"
  count=0; sum=0
  for url in "${ETCD_URLS[@]}"; do
    metrics="$(curl -fsS --max-time 5 "http://$url/metrics" 2>/dev/null || true)"
    read -r c s < <(awk '/^etcd_debugging_snap_save_total_duration_seconds_count/ {c=$2} /^etcd_debugging_snap_save_total_duration_seconds_sum/ {s=$2} END {print c+0, s+0}' <<<"$metrics")
    count=$(awk -v a="$count" -v b="$c" 'BEGIN {print a + b}'); sum=$(awk -v a="$sum" -v b="$s" 'BEGIN {print a + b}')
  done
  saves="$(awk -v c="$count" -v s="$sum" 'BEGIN { printf "%d snapshot saves over the members, %.0f ms each on average", c, c ? s * 1000 / c : 0 }')"
  say "round $1 etcd: $verdict; $saves"
  etcd_down
}

run_akkakv() {
  local name="$2"
  AKKAKV_NODE_DLL="$3"
  rm -rf "$AKKAKV_DATA"
  akkakv_up
  local verdict saves
  verdict="$(check_perf "$AKKAKV_ENDPOINTS")"
  saves="$(cat "$AKKAKV_DATA"/n?.log | grep -o 'snapshot [0-9]*/t[0-9]* saved ([^)]*)' | sed -E 's/.*sequence number [0-9]+; //' | awk '
    { n++; match($0, /serialized in [0-9]+/); s += substr($0, RSTART + 14, RLENGTH - 14); match($0, /stored in [0-9]+/); t += substr($0, RSTART + 10, RLENGTH - 10); if (substr($0, RSTART + 10, RLENGTH - 10) + 0 > m) m = substr($0, RSTART + 10, RLENGTH - 10) + 0 }
    END { if (n) printf "%d snapshots over the nodes, serialized in %.0f ms and stored in %.0f ms on average (slowest store %d ms)", n, s / n, t / n, m; else print "no snapshot line in the logs" }')"
  say "round $1 akkakv $name: $verdict; $saves"
  akkakv_down
}

for round in $(seq 1 "$ROUNDS"); do
  for target in $TARGETS; do
    case "$target" in
      etcd) run_etcd "$round" ;;
      akkakv)
        [ -n "$BEFORE_DLL" ] && run_akkakv "$round" before "$BEFORE_DLL"
        run_akkakv "$round" "$([ -n "$BEFORE_DLL" ] && echo after || echo this)" "$AFTER_DLL" ;;
      *) echo "unknown target '$target' (etcd, akkakv)" >&2; exit 2 ;;
    esac
  done
done

echo "== etcdctl check perf --load=$LOAD, --snapshot-count $SNAPSHOT_COUNT, $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs =="
printf '%s\n' "${summary[@]}"
[ -n "${OUT:-}" ] && printf '%s\n' "${summary[@]}" >>"$OUT"
exit 0
