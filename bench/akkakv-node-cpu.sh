#!/usr/bin/env bash
# Where AkkaKv's server time goes: starts a fresh three-node cluster (scripts/local-cluster.sh, Release
# build, fsync on, ports BASE_PORT..+2, data in a temporary directory), pre-warms it, then runs
#   put 1 client; put 1000 clients / 100 conns; linearizable get 1000 / 100
# (DURATION each, no warm-up) and prints per workload: throughput, p50, the client's CPU per request,
# the three nodes' CPU per request (/proc/<pid>/stat before/after) and how many journal rows each
# node wrote (raft.entries.v1 + raft.hard-state.v1: every fsynced transaction writes at least one), the Raft
# snapshots the three nodes saved during it (their logs' "saved" lines) and their gen-2 garbage collections
# (dotnet_collection_count_total from each node's /metrics), and the nodes' context switches per request (all
# threads, from /proc/<pid>/task/*/status; voluntary ones, a thread going to sleep, then involuntary ones, preemption,
# which grows with the machine's load): every hand-off of a request to a sleeping thread (actor mailbox, Ask
# continuation, socket completion, journal) costs a voluntary one, so at one client they count the request's thread
# hops, plus the nodes' idle wake-ups (ticks, timers, gossip) over the requests.
# An A/B of node flags is two invocations with NODE_ARGS (passed to every node), e.g. snapshots made rare:
#   LABEL=A bench/akkakv-node-cpu.sh; LABEL=B NODE_ARGS="--snapshot-count 1000000000 --snapshot-bytes 0" bench/akkakv-node-cpu.sh
# Environment reaches the nodes, so an A/B of a runtime knob is two invocations, e.g.
#   bench/akkakv-node-cpu.sh; DOTNET_ThreadPool_UnfairSemaphoreSpinLimit=0 bench/akkakv-node-cpu.sh
# Environment: DURATION (10s), PREWARM (5s), BASE_PORT (25054), LABEL (printed first on every line), TARGET (akkakv:
# the ClusterClient path on the node ports; etcd: the etcd v3 API on the client ports, CLIENT_BASE 25479),
# WORKLOADS ("clients conns read-ratio consistency" per workload, ';'-separated; default the three above; "0 0 0 l" is
# DURATION of no load: the idle nodes' CPU and context switches per second), THREADS (1: also the voluntary context
# switches per request by thread name, e.g. ".NET_TP_Worker", so a request's hops can be placed).
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION="${DURATION:-10s}"
PREWARM="${PREWARM:-5s}"
LABEL="${LABEL:-run}"
TARGET="${TARGET:-akkakv}"
WORKLOADS="${WORKLOADS:-1 1 0 l;1000 100 0 l;1000 100 1 l}"
export BASE_PORT="${BASE_PORT:-25054}" PBM_BASE=0 CLIENT_BASE="${CLIENT_BASE:-25479}"
DATA="$(mktemp -d -t akkakv-node-cpu-XXXXXX)"
export DATA
trap 'LIGHTHOUSE=0 scripts/local-cluster.sh down >/dev/null 2>&1 || true; rm -rf "$DATA"' EXIT

LIGHTHOUSE=0 scripts/local-cluster.sh up >/dev/null
KV=(dotnet KvCluster.Client/bin/Release/net10.0/kv.dll)
if [ "$TARGET" = etcd ]; then
  EP="127.0.0.1:$CLIENT_BASE,127.0.0.1:$((CLIENT_BASE + 1)),127.0.0.1:$((CLIENT_BASE + 2))"
else
  EP="127.0.0.1:$BASE_PORT,127.0.0.1:$((BASE_PORT + 1)),127.0.0.1:$((BASE_PORT + 2))"
fi

cpu() { # CPU ticks of the three nodes so far
  local t=0 id s
  for id in 1 2 3; do
    s="$(cat "/proc/$(cat "$DATA/n$id.pid")/stat")"
    s=(${s##*) })
    t=$((t + s[11] + s[12]))
  done
  echo "$t"
}
rows() { # journal rows per node
  python3 - "$DATA" <<'PY'
import sqlite3, sys
out = []
for n in (1, 2, 3):
    c = sqlite3.connect(f"file:{sys.argv[1]}/n{n}/raft.db?mode=ro", uri=True)
    out.append(str(c.execute("select count(*) from journal").fetchone()[0]))
print("/".join(out))
PY
}
switches() { # "voluntary involuntary" context switches of every thread of the three nodes so far
  local id
  for id in 1 2 3; do cat /proc/"$(cat "$DATA/n$id.pid")"/task/*/status 2>/dev/null; done \
    | awk '/^voluntary_ctxt_switches:/ { v += $2 } /^nonvoluntary_ctxt_switches:/ { n += $2 } END { print v + 0, n + 0 }'
}
by_thread() { # "name voluntary-switches" per thread of the three nodes so far (name: /proc comm, digits dropped)
  local id t
  for id in 1 2 3; do
    for t in /proc/"$(cat "$DATA/n$id.pid")"/task/*; do
      echo "$(tr -d '0-9' <"$t/comm" 2>/dev/null | tr ' ' '_') $(awk '/^voluntary_ctxt_switches:/ { print $2 }' "$t/status" 2>/dev/null)"
    done
  done
}
snapshots() { # Raft snapshots saved by the three nodes so far
  cat "$DATA"/n[123].log 2>/dev/null | grep -cE ' saved \([0-9]+ bytes' || true
}
gen2() { # gen-2 collections of the three nodes so far (their /metrics)
  local t=0 id n
  for id in 1 2 3; do
    n="$(curl -s --max-time 5 "http://127.0.0.1:$((CLIENT_BASE + id - 1))/metrics" \
      | awk '/^dotnet_collection_count_total\{generation="2"\}/ { print $2 }')"
    t=$((t + ${n:-0}))
  done
  echo "$t"
}
rows_or_unknown() {
  rows 2>/dev/null || echo "?"
}
field() { grep -o "\"$1\":[-0-9.e]*" <<<"$2" | head -n 1 | cut -d: -f2; }

timeout 120 "${KV[@]}" bench --target "$TARGET" --endpoints "$EP" --clients 100 --conns 10 --duration "$PREWARM" \
  --warmup 0s --key-space 100000 --read-ratio 0.5 --output json >/dev/null
hz="$(getconf CLK_TCK)"
IFS=';' read -r -a workloads <<<"$WORKLOADS"
for w in "${workloads[@]}"; do
  read -r clients conns ratio consistency <<<"$w"
  load="$(cut -d' ' -f1-3 /proc/loadavg)"
  before_rows="$(rows_or_unknown)"
  before_snapshots="$(snapshots)"
  before_gen2="$(gen2)"
  before_switches="$(switches)"
  [ "${THREADS:-0}" = 1 ] && by_thread >"$DATA/threads.before"
  before="$(cpu)"
  if [ "$clients" = 0 ]; then # idle: no load for DURATION; per-second figures of the idle nodes
    secs="$(awk -v d="$DURATION" 'BEGIN { print d + 0 }')"
    sleep "$secs"
    after="$(cpu)"
    after_switches="$(switches)"
    echo "$LABEL idle ${secs}s: nodes $(awk -v t=$((after - before)) -v hz="$hz" -v s="$secs" 'BEGIN { printf "%.3f", t / hz / s }') CPU s/s," \
      "$(awk -v b="$before_switches" -v a="$after_switches" -v s="$secs" 'BEGIN { split(b, x, " "); split(a, y, " "); printf "%.0f + %.0f", (y[1] - x[1]) / s, (y[2] - x[2]) / s }') context switches/s; load $load"
    continue
  fi
  out="$(timeout 120 "${KV[@]}" bench --target "$TARGET" --endpoints "$EP" --clients "$clients" --conns "$conns" \
    --duration "$DURATION" --warmup 0s --key-space 100000 --read-ratio "$ratio" --consistency "$consistency" --output json)"
  after="$(cpu)"
  after_switches="$(switches)"
  req="$(field requests "$out")"
  echo "$LABEL $TARGET clients=$clients conns=$conns read-ratio=$ratio consistency=$consistency: $req requests," \
    "$(field throughput "$out") req/s, p50 $(field p50 "$out") ms, client $(field clientCpuMicrosPerRequest "$out") us/req," \
    "nodes $(awk -v t=$((after - before)) -v r="$req" -v hz="$hz" 'BEGIN { printf "%.0f", t * 1e6 / hz / (r > 0 ? r : 1) }') us/req," \
    "$(awk -v b="$before_switches" -v a="$after_switches" -v r="$req" 'BEGIN { split(b, x, " "); split(a, y, " "); if (r < 1) r = 1; printf "%.1f + %.1f", (y[1] - x[1]) / r, (y[2] - x[2]) / r }') context switches/req;" \
    "journal rows per node $before_rows -> $(rows_or_unknown); snapshots $(($(snapshots) - before_snapshots)); gen-2 GCs $(($(gen2) - before_gen2)); load $load"
  if [ "${THREADS:-0}" = 1 ]; then # voluntary context switches per request by thread name, largest first
    by_thread >"$DATA/threads.after"
    awk -v r="$req" 'NR == FNR { b[$1] += $2; next } { a[$1] += $2 } END { for (k in a) if (a[k] - b[k] > 0) printf "  %-32s %8.2f\n", k, (a[k] - b[k]) / (r > 0 ? r : 1) }' \
      "$DATA/threads.before" "$DATA/threads.after" | sort -k2 -rn | awk 'NR <= 15'
  fi
done
