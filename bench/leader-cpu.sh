#!/usr/bin/env bash
# Where the Raft leader's CPU goes under the 1000-client put load, package by package (issue 14), through AkkaKv's
# ClusterClient path or the etcd API (issue 15).
#
#   bench/leader-cpu.sh            (as root, or with perf_event_paranoid <= 1; needs Debian's linux-perf)
#   TARGET=etcd WORKLOAD=lin bench/leader-cpu.sh     (etcd v3 gRPC on the nodes' client ports; linearizable gets)
#
# Starts a fresh three-node cluster (scripts/local-cluster.sh, Release build, fsync on, data in a temporary
# directory) with the runtime's perf map on (DOTNET_PerfMapEnabled=1, so perf can name JIT-compiled methods),
# pre-warms it at the measured load, finds the leader over pbm, then samples the machine with `perf record -a -g` (999 Hz) during
# DURATION of `kv bench` puts, 256 B values, 1000 clients over 100 connections. The report buckets every sample by
# the assembly (or native library) of its leaf frame:
#   Akka.Remote (+ DotNetty), Akka actors (Akka core, Akka.Cluster, Akka.Cluster.Tools), Akka.Persistence (+ Sql),
#   linq2db, Microsoft.Data.Sqlite + SQLite (libe_sqlite3), Google.Protobuf, AkkaKv (KvCluster.*),
#   .NET libraries (System.*), runtime (coreclr: GC, JIT, stubs), kernel, other,
# and prints the share of each, the throughput, and the leader's CPU per request; then the top leaf methods, and the
# share of samples whose stack passes through each layer of the etcd path (inclusive: Kestrel, gRPC, AkkaKv's etcd
# services and router, the RaftActor, Akka.Remote, the journal).
# Environment: DURATION (10s), PREWARM (30s), BASE_PORT (27054), CLIENT_BASE (27379), TARGET (akkakv | etcd),
# WORKLOAD (put | lin | ser: puts, linearizable or serializable gets), CLIENTS (1000), CONNS (100), TOP (25),
# KEEP (1: keep perf.data and the data), NODES (leader | all: the three nodes' samples and CPU together, so followers'
# work such as their snapshots counts too), NODE_ARGS (flags for every node, e.g. "--snapshot-count 1000000000
# --snapshot-bytes 0" for an A/B with snapshots made rare), KEY_SPACE (10000; compare-etcd.sh uses 100000).
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION="${DURATION:-10s}"
PREWARM="${PREWARM:-30s}"
TARGET="${TARGET:-akkakv}"
WORKLOAD="${WORKLOAD:-put}"
CLIENTS="${CLIENTS:-1000}"
CONNS="${CONNS:-100}"
KEY_SPACE="${KEY_SPACE:-10000}"
TOP="${TOP:-25}"
export BASE_PORT="${BASE_PORT:-27054}" PBM_BASE="${PBM_BASE:-27111}" CLIENT_BASE="${CLIENT_BASE:-27379}" LIGHTHOUSE=0 SYNC=full
case "$WORKLOAD" in
  put) LOAD=(--read-ratio 0) ;;
  lin) LOAD=(--read-ratio 1 --consistency l) ;;
  ser) LOAD=(--read-ratio 1 --consistency s) ;;
  *) echo "WORKLOAD must be put, lin or ser" >&2; exit 2 ;;
esac
DATA="$(mktemp -d -t akkakv-leader-cpu-XXXXXX)"
# W^X off: with it on, JIT code runs from a double mapping perf cannot attribute to the perf map.
export DATA DOTNET_PerfMapEnabled=1 DOTNET_EnableWriteXorExecute=0
cleanup() {
  scripts/local-cluster.sh down >/dev/null 2>&1 || true
  [ "${KEEP:-0}" = 1 ] || rm -rf "$DATA"
}
trap cleanup EXIT
command -v perf >/dev/null || { echo "perf is missing: apt-get install linux-perf" >&2; exit 2; }
command -v gawk >/dev/null || { echo "gawk is missing: apt-get install gawk" >&2; exit 2; }

scripts/local-cluster.sh up >/dev/null
KV=(dotnet KvCluster.Client/bin/Release/net10.0/kv.dll)
if [ "$TARGET" = etcd ]; then
  EP="127.0.0.1:$CLIENT_BASE,127.0.0.1:$((CLIENT_BASE + 1)),127.0.0.1:$((CLIENT_BASE + 2))"
else
  EP="127.0.0.1:$BASE_PORT,127.0.0.1:$((BASE_PORT + 1)),127.0.0.1:$((BASE_PORT + 2))"
fi
# The same load as the sample: the JIT's tiering (tier-0, instrumented, tier-1) settles about 30 s into it. Reads
# read keys the pre-warm wrote (a 50/50 mix).
prewarm_load=("${LOAD[@]}")
[ "$WORKLOAD" = put ] || prewarm_load=(--read-ratio 0.5)
"${KV[@]}" bench --target "$TARGET" --endpoints "$EP" --clients "$CLIENTS" --conns "$CONNS" --duration "$PREWARM" --warmup 0s --key-space "$KEY_SPACE" \
  "${prewarm_load[@]}" --output json >/dev/null 2>&1 || true

leader=""
for id in 1 2 3; do
  if "${KV[@]}" pbm "127.0.0.1:$((PBM_BASE + id - 1))" raft status 2>/dev/null | grep -qi "role: *leader"; then leader="$id"; fi
done
[ -n "$leader" ] || { echo "no leader found over pbm" >&2; exit 3; }
pid="$(cat "$DATA/n$leader.pid")"
[ "${NODES:-leader}" = all ] && pid="$(cat "$DATA/n1.pid")|$(cat "$DATA/n2.pid")|$(cat "$DATA/n3.pid")"
ticks() { local t=0 one; for one in ${pid//|/ }; do t=$((t + $(awk '{print $14 + $15}' "/proc/$one/stat"))); done; echo "$t"; }
seconds="$(awk -v d="$DURATION" 'BEGIN { if (d ~ /ms$/) print d / 1000; else print d + 0 }')"
window=$(( ${seconds%.*} / 2 > 1 ? ${seconds%.*} / 2 : 1 ))
"${KV[@]}" bench --target "$TARGET" --endpoints "$EP" --clients "$CLIENTS" --conns "$CONNS" --duration "$DURATION" --warmup 0s --key-space "$KEY_SPACE" \
  "${LOAD[@]}" --output json >"$DATA/bench.json" 2>/dev/null &
bench_pid=$!
# The load starts only once kv bench has connected its 1000 clients (several seconds): wait until the leader is busy
# (over a third of a core for half a second), then sample for half of DURATION. System-wide (-a) and filtered to the
# leader below: on this KVM machine (software cpu-clock events only, no PMU) `perf record -p` kept about 30 samples
# a second of a process using 0.7 of a core.
hz="$(getconf CLK_TCK)"
for _ in $(seq 1 120); do
  t0="$(ticks)"; sleep 0.5; t1="$(ticks)"
  [ $(( (t1 - t0) * 6 )) -ge "$hz" ] && break
done
ticks_before="$(ticks)"
perf record -a -F 999 -g -o "$DATA/perf.data" -- sleep "$window" >/dev/null 2>&1 || true
ticks_after="$(ticks)"
wait "$bench_pid" || true
json="$(cat "$DATA/bench.json")"
throughput="$(grep -o '"throughput":[0-9.e]*' <<<"$json" | head -n 1 | cut -d: -f2)"

# One line per sample of the leader: pid, address, symbol, (shared object). Managed frames are named through the perf
# map, "ret [Assembly] Namespace.Type::Method(...)": the assembly before the type is the one that defines the method.
perf script -i "$DATA/perf.data" -F pid,ip,sym,dso 2>/dev/null >"$DATA/perf.txt" || true
# The first line of each sample's block is its header (pid), the next its leaf frame, the rest its callers.
gawk -v p="$pid" '/^[^ \t]/ { keep = ($1 ~ "^(" p ")$"); leaf = 1; next } keep && NF && leaf { print p, $0; leaf = 0 }' "$DATA/perf.txt" \
  | gawk -v tput="$throughput" -v ticks="$((ticks_after - ticks_before))" -v hz="$(getconf CLK_TCK)" -v secs="$window" -v leader="$leader" -v who="${NODES:-leader}" -v workload="$WORKLOAD" -v target="$TARGET" '
    {
      pct = 1
      line = $0
      owner = ""
      if (match(line, /\[([^]]+)\] [^ ]+::/, m)) owner = m[1]
      bucket = "other"
      if (line ~ /\[kernel/) bucket = "kernel"
      else if (line ~ /libe_sqlite3/) bucket = "Microsoft.Data.Sqlite + SQLite"
      else if (line ~ /libclrjit/) bucket = "runtime: JIT (libclrjit)"
      else if (line ~ /libcoreclr|libSystem\.Native/) bucket = "runtime: GC, casts, stubs (libcoreclr)"
      else if (line ~ /libc\.so|ld-linux|vdso/) bucket = "libc (malloc, memset, locks)"
      else if (owner ~ /^(Akka\.Remote|DotNetty)/) bucket = "Akka.Remote (+ DotNetty)"
      else if (owner ~ /^Akka\.Persistence/) bucket = "Akka.Persistence (+ Sql)"
      else if (owner ~ /^linq2db/) bucket = "linq2db"
      else if (owner ~ /^(Microsoft\.Data\.Sqlite|SQLitePCLRaw)/) bucket = "Microsoft.Data.Sqlite + SQLite"
      else if (owner ~ /^Akka/) bucket = "Akka actors (core, Cluster, Cluster.Tools)"
      else if (owner ~ /^Google\.Protobuf/) bucket = "Google.Protobuf"
      else if (owner ~ /^(KvCluster|kv)/) bucket = "AkkaKv (KvCluster.*)"
      else if (owner ~ /^(System|Microsoft)/) bucket = ".NET libraries (System.*)"
      else if (line ~ /perf-[0-9]+\.map/) bucket = "managed, unnamed (stubs)"
      share[bucket] += pct
      total += pct
    }
    END {
      cpu = ticks / hz
      printf "leader: node %s; %s %s req/s via %s (the run); %s CPU %.2f s in the %s s sampled = %.0f us per request; %d samples\n", leader, tput, workload, target, (who == "all" ? "all nodes" : "leader"), cpu, secs, (tput > 0 ? cpu * 1e6 / (tput * secs) : 0), total
      printf "%-45s %7s %10s\n", "where (leaf frame)", "share", "us/req"
      n = asorti(share, names)
      for (i = 1; i <= n; i++) order[i] = names[i]
      for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (share[order[j]] > share[order[i]]) { t = order[i]; order[i] = order[j]; order[j] = t }
      for (i = 1; i <= n; i++) {
        b = order[i]
        printf "%-45s %6.1f%% %10.1f\n", b, share[b] * 100 / total, (tput > 0 ? share[b] / total * cpu * 1e6 / (tput * secs) : 0)
      }
    }'

# The hottest leaf methods of the leader (managed names through the perf map).
echo
echo "top $TOP leaf frames of the leader:"
gawk -v p="$pid" '/^[^ \t]/ { keep = ($1 ~ "^(" p ")$"); leaf = 1; next } keep && NF && leaf { $1 = ""; sub(/^ +/, ""); sub(/ \(.*$/, ""); n[$0]++; total++; leaf = 0 }
  END { for (k in n) printf "%6.2f%%  %s\n", n[k] * 100 / total, substr(k, 1, 160) }' "$DATA/perf.txt" | sort -rn | awk -v t="$TOP" 'NR <= t'

# Inclusive: the share of the leader's samples whose stack passes through each layer (a sample can count in several).
echo
echo "leader samples whose stack passes through (inclusive):"
gawk -v p="$pid" '
  function flush() { if (inside) { total++; for (k in seen) n[k]++ } delete seen }
  /^[^ \t]/ { flush(); inside = ($1 ~ "^(" p ")$"); next }
  inside && NF {
    if ($0 ~ /Microsoft\.AspNetCore\.Server\.Kestrel/) seen["Kestrel (HTTP/2, sockets)"] = 1
    if ($0 ~ /\[Grpc\.AspNetCore|\[Grpc\.Core/) seen["Grpc.AspNetCore"] = 1
    if ($0 ~ /KvCluster\.Node\.Etcd\./) seen["AkkaKv etcd services + gateway"] = 1
    if ($0 ~ /KvCluster\.Node\.Router\./) seen["AkkaKv router"] = 1
    if ($0 ~ /KvCluster\.Raft\.Actor\.RaftActor/) seen["RaftActor"] = 1
    if ($0 ~ /KvCluster\.Node\.Kv\./) seen["KV state machine"] = 1
    if ($0 ~ /\[Akka\.Remote|\[DotNetty/) seen["Akka.Remote + DotNetty"] = 1
    if ($0 ~ /\[Akka\.Persistence|\[linq2db|Sqlite|sqlite3/) seen["journal (Akka.Persistence.Sql, SQLite)"] = 1
    if ($0 ~ /Akka\.Actor\.(Futures|PromiseActorRef)|FutureActorRef|AskEx/) seen["Ask (PromiseActorRef)"] = 1
    if ($0 ~ /gc_heap|GCHeap|WKS::|SVR::/) seen["GC"] = 1
    if ($0 ~ /ThreadPoolWorkQueue|PortableThreadPool|WorkerThread/) seen["thread pool"] = 1
    if ($0 ~ /KvSnapshotCapture|CaptureSnapshot|RaftSnapshotEnvelope/) seen["snapshot: capture, serialize, envelope"] = 1
    if ($0 ~ /Snapshot\.SqlSnapshotStore|SnapshotStore::|ByteArraySnapshot/) seen["snapshot store (save, delete)"] = 1
    if ($0 ~ /DeleteMessages|DeleteAsync|\.Delete\(/) seen["journal/snapshot deletes"] = 1
    if ($0 ~ /libcrypto|libssl|SHA256|HashData/) seen["SHA-256"] = 1
  }
  END { flush(); for (k in n) printf "%6.1f%%  %s\n", n[k] * 100 / total, k }' "$DATA/perf.txt" | sort -rn
