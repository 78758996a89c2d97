#!/usr/bin/env bash
# Where the Raft leader's CPU goes under the 1000-client put load, package by package (issue 14).
#
#   bench/leader-cpu.sh            (as root, or with perf_event_paranoid <= 1; needs Debian's linux-perf)
#
# Starts a fresh three-node cluster (scripts/local-cluster.sh, Release build, fsync on, data in a temporary
# directory) with the runtime's perf map on (DOTNET_PerfMapEnabled=1, so perf can name JIT-compiled methods),
# pre-warms it at the measured load, finds the leader over pbm, then samples the machine with `perf record -a -g` (999 Hz) during
# DURATION of `kv bench` puts, 256 B values, 1000 clients over 100 connections. The report buckets every sample by
# the assembly (or native library) of its leaf frame:
#   Akka.Remote (+ DotNetty), Akka actors (Akka core, Akka.Cluster, Akka.Cluster.Tools), Akka.Persistence (+ Sql),
#   linq2db, Microsoft.Data.Sqlite + SQLite (libe_sqlite3), Google.Protobuf, AkkaKv (KvCluster.*),
#   .NET libraries (System.*), runtime (coreclr: GC, JIT, stubs), kernel, other,
# and prints the share of each, the throughput, and the leader's CPU per put.
# Environment: DURATION (10s), PREWARM (30s), BASE_PORT (27054), KEEP (1: keep perf.data and the data).
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION="${DURATION:-10s}"
PREWARM="${PREWARM:-30s}"
export BASE_PORT="${BASE_PORT:-27054}" PBM_BASE="${PBM_BASE:-27111}" LIGHTHOUSE=0 SYNC=full
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
EP="127.0.0.1:$BASE_PORT,127.0.0.1:$((BASE_PORT + 1)),127.0.0.1:$((BASE_PORT + 2))"
# The same load as the sample: the JIT's tiering (tier-0, instrumented, tier-1) settles about 30 s into it.
"${KV[@]}" bench --target akkakv --endpoints "$EP" --clients 1000 --conns 100 --duration "$PREWARM" --warmup 0s \
  --read-ratio 0 --output json >/dev/null 2>&1 || true

leader=""
for id in 1 2 3; do
  if "${KV[@]}" pbm "127.0.0.1:$((PBM_BASE + id - 1))" raft status 2>/dev/null | grep -qi "role: *leader"; then leader="$id"; fi
done
[ -n "$leader" ] || { echo "no leader found over pbm" >&2; exit 3; }
pid="$(cat "$DATA/n$leader.pid")"
ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
seconds="$(awk -v d="$DURATION" 'BEGIN { if (d ~ /ms$/) print d / 1000; else print d + 0 }')"
window=$(( ${seconds%.*} / 2 > 1 ? ${seconds%.*} / 2 : 1 ))
"${KV[@]}" bench --target akkakv --endpoints "$EP" --clients 1000 --conns 100 --duration "$DURATION" --warmup 0s \
  --read-ratio 0 --output json >"$DATA/bench.json" 2>/dev/null &
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
perf script -i "$DATA/perf.data" -F pid,ip,sym,dso -G 2>/dev/null | awk -v p="$pid" '$1 == p' \
  | gawk -v tput="$throughput" -v ticks="$((ticks_after - ticks_before))" -v hz="$(getconf CLK_TCK)" -v secs="$window" -v leader="$leader" '
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
      printf "leader: node %s; %s puts/s (the run); leader CPU %.2f s in the %s s sampled = %.0f us per put; %d samples\n", leader, tput, cpu, secs, (tput > 0 ? cpu * 1e6 / (tput * secs) : 0), total
      printf "%-45s %7s %10s\n", "where (leaf frame)", "share", "us/put"
      n = asorti(share, names)
      for (i = 1; i <= n; i++) order[i] = names[i]
      for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (share[order[j]] > share[order[i]]) { t = order[i]; order[i] = order[j]; order[j] = t }
      for (i = 1; i <= n; i++) {
        b = order[i]
        printf "%-45s %6.1f%% %10.1f\n", b, share[b] * 100 / total, (tput > 0 ? share[b] / total * cpu * 1e6 / (tput * secs) : 0)
      }
    }'
