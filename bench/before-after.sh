#!/usr/bin/env bash
# Before and after a change, in one run on one machine (issue 14: the move onto Akka.NET).
#
#   bench/before-after.sh [BEFORE_REF]      (default: 25bc51d, the last commit on the in-house runtime)
#
# Builds BEFORE_REF in a temporary git worktree and this checkout (Release), then, one system at a time
# (never two at once), on loopback with fsync on:
#   1. start-up to first answered put, one node, fresh data directory, for before and after, ROUNDS times each
#      (interleaved: before, after, before, after, ...): from the node process's start until `kv put` is acknowledged;
#   2. bench/compare-etcd.sh: etcd 3.4 (three members), then AkkaKv after, then AkkaKv before, the same `kv bench`
#      workloads (its table gives throughput, latency percentiles, server CPU per request and each member's largest
#      RSS during each workload). Each tree's own `kv bench` drives its own nodes (the wire protocols differ;
#      the load generator's code is the same in both).
# Prints both tables and a summary; the whole run is bounded (about 15 minutes with the defaults).
#   (kv is polled as a new process every 50 ms after the last attempt ended, so the first figure includes the
#   start-up of the kv process that succeeds; the second figure is the node's own, from its log)
# Environment: ROUNDS (3), DURATION / WARMUP / PREWARM (passed to compare-etcd.sh), KEEP (1: keep the worktree).
set -euo pipefail
cd "$(dirname "$0")/.."

BEFORE_REF="${1:-25bc51d}"
ROUNDS="${ROUNDS:-3}"
log() { echo "[before-after] $*" >&2; }

work="$(mktemp -d -t akkakv-before-after-XXXXXX)"
before_tree="$work/before"
node_pid=""
cleanup() {
  [ -n "$node_pid" ] && kill -KILL "$node_pid" 2>/dev/null || true
  git worktree remove --force "$before_tree" >/dev/null 2>&1 || true
  [ "${KEEP:-0}" = 1 ] || rm -rf "$work"
}
trap cleanup EXIT

log "building after ($(git rev-parse --short HEAD)) and before ($BEFORE_REF) in $before_tree"
git worktree add --detach "$before_tree" "$BEFORE_REF" >/dev/null 2>&1
for tree in . "$before_tree"; do
  for project in KvCluster.Node KvCluster.Client lighthouse; do
    (cd "$tree" && timeout 900 dotnet build "$project" -c Release -v quiet -nologo >"$work/build.log" 2>&1) \
      || { log "build of $project in $tree failed:"; tail -n 20 "$work/build.log" >&2; exit 2; }
  done
done
# --- 1. start-up to first answered put ---------------------------------------------------------------
startup_ms() { # tree port -> milliseconds from the node's start to the first acknowledged put
  local tree="$1" port="$2" data start end
  data="$(mktemp -d -p "$work" data-XXXXXX)"
  start="$(date +%s%N)"
  (cd "$tree" && exec dotnet KvCluster.Node/bin/Release/net10.0/KvCluster.Node.dll --port "$port" --pbm-port 0 \
    --data-dir "$data" >"$data.log" 2>&1) &
  node_pid=$!
  local deadline=$((SECONDS + 60))
  # Each tree's own kv: the two speak different wire protocols.
  until (cd "$tree" && dotnet KvCluster.Client/bin/Release/net10.0/kv.dll --via akka --endpoints "127.0.0.1:$port" --timeout 2s put startup-probe v >/dev/null 2>&1); do
    if [ "$SECONDS" -ge "$deadline" ] || ! kill -0 "$node_pid" 2>/dev/null; then
      log "no answered put from the node in $tree; last lines of its log:"; tail -n 5 "$data.log" >&2
      kill -KILL "$node_pid" 2>/dev/null || true; node_pid=""; echo "-"; return
    fi
    sleep 0.05
  done
  end="$(date +%s%N)"
  # The node's own share: from its start to the log line of its election as leader (UTC HH:MM:SS.mmm).
  local elected leader_ms="-"
  elected="$(grep -m1 -oE '^[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}.*-> Leader' "$data.log" | cut -c1-12 || true)"
  if [ -n "$elected" ]; then
    leader_ms=$(( ($(date -u -d "$(date -u +%F) $elected" +%s%N) - start) / 1000000 ))
  fi
  kill -TERM "$node_pid" 2>/dev/null || true
  wait "$node_pid" 2>/dev/null || true
  node_pid=""
  echo "$(((end - start) / 1000000))/$leader_ms"
}
declare -a startup_before startup_after
for round in $(seq 1 "$ROUNDS"); do
  startup_before+=("$(startup_ms "$before_tree" 26054)")
  startup_after+=("$(startup_ms . 26054)")
  log "start-up to first put, round $round: before ${startup_before[-1]} ms, after ${startup_after[-1]} ms"
done

# --- 2. throughput, latency, CPU and RSS against etcd ------------------------------------------------------
log "compare-etcd: etcd and AkkaKv after"
SKIP_BUILD=1 bench/compare-etcd.sh >"$work/after.txt" 2>"$work/after.err" || log "compare-etcd (after) exited $?"
log "compare-etcd: AkkaKv before (its own kv bench)"
(cd "$before_tree" && SKIP_BUILD=1 TARGETS=akkakv bench/compare-etcd.sh) >"$work/before.txt" 2>"$work/before.err" \
  || log "compare-etcd (before) exited $?"

echo "== start-up to first answered put, one node, fresh data (ms; $ROUNDS rounds, interleaved)"
echo "   each figure: to the first put acknowledged to a polling kv process / to the node's log line 'Follower -> Leader'"
echo "before ($BEFORE_REF): ${startup_before[*]}"
echo "after  ($(git rev-parse --short HEAD)): ${startup_after[*]}"
echo
echo "== after: etcd and AkkaKv ($(git rev-parse --short HEAD))"
sed -n '/ vs AkkaKv /,$p' "$work/after.txt"
echo
echo "== before: AkkaKv ($BEFORE_REF), same machine, same run"
sed -n '/ vs AkkaKv /,$p' "$work/before.txt"
