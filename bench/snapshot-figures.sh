#!/usr/bin/env bash
# Issue 17's figures: snapshots and log compaction under load. Three measurements, each bounded in time:
#
#   bench/snapshot-figures.sh rss       RSS and data-directory size of every member, sampled every SAMPLE seconds,
#                                       over a sustained put load (CLIENTS clients over CONNS connections, PUTS puts
#                                       on KEYS keys, `kv bench --target etcd`), for a three-member etcd 3.4 and a
#                                       three-node AkkaKv one after the other (TARGETS); per member: first, max and
#                                       last RSS and data size, and the growth over the second half of the run.
#   bench/snapshot-figures.sh restart   AkkaKv alone: WRITES puts, `local-cluster.sh down` (SIGTERM), then the time
#                                       from `up` to the first served linearizable read (etcdctl, sent as soon as a
#                                       node accepts connections), once with the Release build's node (JIT) and once
#                                       with the published one (ReadyToRun); then one follower alone restarted while
#                                       the other two serve: the time until it serves a linearizable read itself.
#   bench/snapshot-figures.sh catchup   AkkaKv alone: a follower stopped while about STATE_MIB MiB of state is
#                                       written (1 KiB values), then restarted under a put load on the leader: the
#                                       time until it applied the leader's snapshot index, and the leader's put
#                                       throughput during the catch-up and while the snapshot streamed, against
#                                       before it (one member down) and after it (all three up: the cluster's normal
#                                       rate; the issue: at least half of it).
#   bench/snapshot-figures.sh all       the three in that order.
#
# The issue's sizes are the defaults; smoke-test with tiny ones, e.g.
#   PUTS=20000 CLIENTS=50 CONNS=10 WRITES=5000 STATE_MIB=2 SAMPLE=1 bench/snapshot-figures.sh all
# The nodes run with SNAPSHOT_ARGS (default: none, the node defaults: --snapshot-count 100000, --snapshot-bytes 64 MiB,
# --snapshot-catchup-entries 5000; the first recorded run used "--snapshot-count 10000 --snapshot-catchup-entries 5000").
# Environment: TARGETS ("etcd akkakv"), PUTS (1000000), KEYS (10000), CLIENTS (1000), CONNS (100), SAMPLE (5 s),
#   WRITES (1000000), STATE_MIB (100), LOAD_CLIENTS (100), BASE_PORT (28979: etcd's ports), AKKAKV_PORT (28654),
#   AKKAKV_CLIENT_PORT (28779), SKIP_BUILD (1: use the existing Release builds), SNAPSHOT_ARGS, OUT (a file that
#   receives the summary lines too), NODE (published: the node published with ReadyToRun, as the Dockerfile ships it;
#   build: the Release build's KvCluster.Node.dll) for rss and catchup, RESTARTS (1: how many times restart restarts the
#   published node's cluster on the same data; its median is the steadier figure), STOP (down: restart stops the
#   cluster with `local-cluster.sh down`, SIGTERM, an orderly stop that snapshots first; kill: SIGKILL, a crash, so
#   every restart applies the log after the last periodic snapshot).
# The last lines are the summary; run it on a quiet machine (it measures whatever else runs too).
set -euo pipefail
cd "$(dirname "$0")/.."

MODE="${1:-all}"
TARGETS="${TARGETS:-etcd akkakv}"
PUTS="${PUTS:-1000000}"
KEYS="${KEYS:-10000}"
CLIENTS="${CLIENTS:-1000}"
CONNS="${CONNS:-100}"
SAMPLE="${SAMPLE:-5}"
WRITES="${WRITES:-1000000}"
STATE_MIB="${STATE_MIB:-100}"
LOAD_CLIENTS="${LOAD_CLIENTS:-100}"
STOP="${STOP:-down}"
case "$STOP" in down|kill) ;; *) echo "STOP must be down or kill, not '$STOP'" >&2; exit 2 ;; esac
BASE_PORT="${BASE_PORT:-28979}"
AKKAKV_PORT="${AKKAKV_PORT:-28654}"
AKKAKV_CLIENT_PORT="${AKKAKV_CLIENT_PORT:-28779}"
SNAPSHOT_ARGS="${SNAPSHOT_ARGS:-}"
NODE="${NODE:-published}"
RESTARTS="${RESTARTS:-1}"
STEP_TIMEOUT=3600   # seconds for any one load run

log() { echo "[snapshot-figures] $*" >&2; }
summary=()
say() { summary+=("$*"); log "$*"; }

case "$MODE" in rss|restart|catchup|all) ;; *) echo "usage: $0 rss|restart|catchup|all" >&2; exit 2 ;; esac

workdir="$(mktemp -d -t kv-snapshot-figures-XXXXXX)"
AKKAKV_NODE_ARGS="$SNAPSHOT_ARGS"
source bench/lib/clusters.sh
bench_build KvCluster.Client KvCluster.Node
KV=(dotnet KvCluster.Client/bin/Release/net10.0/kv.dll)
BUILD_NODE_DLL="$AKKAKV_NODE_DLL"
PUBLISHED_NODE_DLL="$workdir/node/KvCluster.Node.dll"
case "$NODE" in published|build) ;; *) echo "NODE must be published or build, not '$NODE'" >&2; exit 2 ;; esac
if [ "$NODE" = published ] || [[ "$MODE" == restart || "$MODE" == all ]]; then bench_publish_node "$workdir/node"; fi
[ "$NODE" = published ] && AKKAKV_NODE_DLL="$PUBLISHED_NODE_DLL"

pids=()       # the measured members' processes
datadirs=()   # and their data directories
sampler=""
loadpid=""
AKKA_DATA="$AKKAKV_DATA"

cleanup() {
  [ -n "$sampler" ] && kill "$sampler" 2>/dev/null || true
  [ -n "$loadpid" ] && kill "$loadpid" 2>/dev/null || true
  bench_clusters_down
  rm -rf "$workdir"
}
trap cleanup EXIT

# --- the clusters -----------------------------------------------------------------------------
akkakv() { akkakv_cluster "$@"; }
stop_etcd() { etcd_down; }
start_etcd() {
  etcd_up "$BASE_PORT" kv-snapshot
  endpoints="$ETCD_ENDPOINTS"; pids=("${ETCD_PIDS[@]}"); datadirs=("${ETCD_DIRS[@]}")
  wait_served "etcd"
}
start_akkakv() {
  akkakv_up
  endpoints="$AKKAKV_ENDPOINTS"; pids=("${AKKAKV_PIDS[@]}"); datadirs=("${AKKAKV_DIRS[@]}")
  wait_served "AkkaKv"
}
stop_akkakv() { akkakv_down; rm -rf "$AKKA_DATA"; }
wait_served() { # name: waits (bounded) until a linearizable read is served through $endpoints (exit 1: not found, served)
  local _ rc
  for _ in $(seq 1 240); do
    rc=0
    timeout 10 "${KV[@]}" get probe --endpoints "$endpoints" >/dev/null 2>&1 || rc=$?
    [ "$rc" -le 1 ] && return 0
    sleep 0.1
  done
  log "$1 served no linearizable read within 240 tries"; exit 3
}

# --- sampling -----------------------------------------------------------------------------------
rss_mib() { awk '/^VmRSS:/ { printf "%d", $2 / 1024 }' "/proc/$1/status" 2>/dev/null || echo 0; }
dir_mib() { du -sm "$1" 2>/dev/null | cut -f1 || echo 0; }
start_sampler() { # file: one line per SAMPLE seconds: elapsed, then per member RSS MiB and data MiB
  local file="$1"
  (
    start=$SECONDS
    while :; do
      line="$((SECONDS - start))"
      for i in "${!pids[@]}"; do line+=" $(rss_mib "${pids[$i]}") $(dir_mib "${datadirs[$i]}")"; done
      echo "$line" >>"$file"
      sleep "$SAMPLE"
    done
  ) &
  sampler=$!
}
stop_sampler() { [ -n "$sampler" ] && kill "$sampler" 2>/dev/null; wait "$sampler" 2>/dev/null || true; sampler=""; }
summarize_samples() { # name file
  local name="$1" file="$2" m
  for m in 0 1 2; do
    awk -v m="$m" -v name="$name" '
      { rss = $(2 + 2 * m); dir = $(3 + 2 * m); n++; r[n] = rss; d[n] = dir; if (rss > maxr) maxr = rss; if (dir > maxd) maxd = dir }
      END {
        if (n == 0) { exit }
        half = int(n / 2) + 1
        printf "%s member %d: RSS first %d, max %d, last %d MiB (second half %+d MiB); data dir first %d, max %d, last %d MiB (second half %+d MiB); %d samples\n",
          name, m + 1, r[1], maxr, r[n], r[n] - r[half], d[1], maxd, d[n], d[n] - d[half], n
      }' "$file"
  done
}

# --- the three measurements -----------------------------------------------------------------------
run_rss() {
  local target
  for target in $TARGETS; do
    if [ "$target" = etcd ]; then start_etcd; else start_akkakv; fi
    log "$target: $PUTS puts on $KEYS keys, $CLIENTS clients over $CONNS connections"
    start_sampler "$workdir/$target.samples"
    timeout "$STEP_TIMEOUT" "${KV[@]}" bench --target etcd --endpoints "$endpoints" --clients "$CLIENTS" --conns "$CONNS" \
      --total "$PUTS" --key-space "$KEYS" --warmup 0 --output json >"$workdir/$target.bench.json" || log "$target: kv bench exited $?"
    sleep "$SAMPLE"
    stop_sampler
    say "$target: $(jq -r '"\(.requests) puts in \(.elapsedSeconds) s, \(.throughput) puts/s, \(.errors) errors"' "$workdir/$target.bench.json" 2>/dev/null || echo "no bench result")"
    while IFS= read -r line; do say "$line"; done < <(summarize_samples "$target" "$workdir/$target.samples")
    if [ "$target" = etcd ]; then stop_etcd; else stop_akkakv; fi
  done
}

first_read() { # endpoints: waits until one of them accepts HTTP, then sends one linearizable read (etcdctl, an etcd
  # client that starts in milliseconds) that waits up to 60 s for the cluster to serve it; exits 3 if it is not served
  local ep deadline=$((SECONDS + 120)) listening=""
  while [ -z "$listening" ] && [ "$SECONDS" -lt "$deadline" ]; do
    for ep in ${1//,/ }; do
      if curl -s -o /dev/null --max-time 1 "http://$ep/version"; then listening="$ep"; break; fi
    done
    [ -n "$listening" ] || sleep 0.02
  done
  [ -n "$listening" ] || { log "no endpoint of $1 accepted a connection within 120 s"; exit 3; }
  timeout 70 etcdctl --endpoints "$1" --dial-timeout 5s --command-timeout 60s get restart-probe >/dev/null 2>"$workdir/first-read.err" \
    || { log "the first read was not served: $(tail -n 2 "$workdir/first-read.err")"; exit 3; }
}

node_timeline() { # id mark: the node's log after line mark: its first line, the recovery done, its first Raft role, and
  # how many committed entries it applied after its snapshot (none once an orderly stop snapshotted everything applied)
  local id="$1" mark="$2" first recovered role replayed
  first="$(tail -n +"$((mark + 1))" "$AKKA_DATA/n$id.log" | grep -m1 -oE '^[0-9:.]{12}' || true)"
  recovered="$(tail -n +"$((mark + 1))" "$AKKA_DATA/n$id.log" | grep -m1 -E 'recovers from snapshot|recovered [0-9]+ journal events' | cut -c1-12 || true)"
  role="$(tail -n +"$((mark + 1))" "$AKKA_DATA/n$id.log" | grep -m1 -E -- '-> Leader|-> Follower \(term [1-9]' | sed -E 's/^([0-9:.]{12}).*(-> [A-Za-z]+).*/\1 \2/' || true)"
  replayed="$(tail -n +"$((mark + 1))" "$AKKA_DATA/n$id.log" | grep -m1 -oE 'applied the [0-9]+ committed entries after its snapshot' | grep -oE '[0-9]+' || true)"
  say "  node $id: first log line $first, journal recovery logged $recovered, then $role; entries applied after its snapshot: ${replayed:-none}"
}

stop_for_restart() { # STOP=down: an orderly stop; STOP=kill: SIGKILL every node (a crash), then `down` tidies up
  local id pid
  if [ "$STOP" = kill ]; then
    for id in 1 2 3; do
      pid="$(cat "$AKKA_DATA/n$id.pid" 2>/dev/null || true)"
      [ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null || true
    done
    sleep 0.5
  fi
  akkakv down >/dev/null 2>&1
}

restart_cluster() { # variant dll: `up` with that node, time to the first served linearizable read, then `down`
  local variant="$1" id took started
  declare -A log_mark=()
  for id in 1 2 3; do log_mark[$id]=$(wc -l <"$AKKA_DATA/n$id.log"); done
  started=$EPOCHREALTIME
  AKKAKV_NODE_DLL="$2" AKKAKV_UP_WAIT=0 akkakv up >/dev/null 2>"$workdir/restart-up.err" || { log "up failed: $(tail -n 3 "$workdir/restart-up.err")"; exit 3; }
  first_read "$endpoints"
  took="$(awk -v a="$started" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f", b - a }')"
  restart_times+=("$took")
  say "restart ($variant) after $WRITES writes, stopped by $([ "$STOP" = kill ] && echo SIGKILL || echo 'an orderly stop'): first linearizable read served $took s after 'local-cluster.sh up' began (three nodes started)"
  say "  'up' began at $(date -u -d "@${started%.*}" +%T).${started#*.}"
  for id in 1 2 3; do node_timeline "$id" "${log_mark[$id]}"; done
  stop_for_restart
}

restart_member() { # one follower stopped (SIGTERM) and started again while the other two serve
  local leader follower_id follower_ep pid cmdline mark started took
  leader="$(leader_endpoint)" || { log "no leader"; exit 3; }
  for id in 1 2 3; do
    if [ "127.0.0.1:$((AKKAKV_CLIENT_PORT + id - 1))" != "$leader" ]; then follower_id=$id; break; fi
  done
  follower_ep="127.0.0.1:$((AKKAKV_CLIENT_PORT + follower_id - 1))"
  pid="$(cat "$AKKA_DATA/n$follower_id.pid")"
  mapfile -d '' cmdline <"/proc/$pid/cmdline"
  kill -TERM "$pid"; while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
  mark=$(wc -l <"$AKKA_DATA/n$follower_id.log")
  started=$EPOCHREALTIME
  setsid "${cmdline[@]}" >>"$AKKA_DATA/n$follower_id.log" 2>&1 </dev/null &
  echo "$!" >"$AKKA_DATA/n$follower_id.pid"
  first_read "$follower_ep"
  took="$(awk -v a="$started" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f", b - a }')"
  say "restart of one member (node $follower_id, published) while the others serve: it served a linearizable read $took s after its start"
  node_timeline "$follower_id" "$mark"
}

run_restart() {
  command -v etcdctl >/dev/null 2>&1 || { log "installing etcd-client (apt-get)"; apt-get update -qq && apt-get install -y -qq etcd-client >/dev/null; }
  AKKAKV_NODE_DLL="$PUBLISHED_NODE_DLL"
  start_akkakv
  log "restart: $WRITES puts, then down and up (the Release build's node, then the published one)"
  timeout "$STEP_TIMEOUT" "${KV[@]}" bench --target etcd --endpoints "$endpoints" --clients "$CLIENTS" --conns "$CONNS" \
    --total "$WRITES" --key-space "$KEYS" --warmup 0 --output json >"$workdir/restart.bench.json" || log "kv bench exited $?"
  stop_for_restart
  restart_cluster "Release build, JIT" "$BUILD_NODE_DLL"
  local run
  restart_times=()
  for run in $(seq 1 "$RESTARTS"); do
    restart_cluster "published, ReadyToRun$([ "$RESTARTS" = 1 ] || echo ", $run of $RESTARTS")" "$PUBLISHED_NODE_DLL"
  done
  if [ "$RESTARTS" -gt 1 ]; then
    say "restart (published, ReadyToRun): median $(printf '%s\n' "${restart_times[@]}" | sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }') s over $RESTARTS restarts (${restart_times[*]} s)"
  fi
  akkakv up >/dev/null 2>&1
  restart_member
  stop_akkakv
  [ "$NODE" = published ] || AKKAKV_NODE_DLL="$BUILD_NODE_DLL"
}

status_json() { timeout 20 "${KV[@]}" endpoint status --endpoints "$1" -w json 2>/dev/null; }
etcd_status() { timeout 5 etcdctl --endpoints "$1" --dial-timeout 2s --command-timeout 3s endpoint status -w json 2>/dev/null; }
etcd_revision() { (etcd_status "$1" || true) | jq -r '.[0].Status.header.revision // 0' 2>/dev/null | head -n 1; }
leader_endpoint() {
  local ep
  for ep in ${endpoints//,/ }; do
    if status_json "$ep" | jq -e '.[0].Status | (.header.member_id == .leader)' >/dev/null 2>&1; then echo "$ep"; return 0; fi
  done
  return 1
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.3f", a / b; else print "n/a" }'; }
put_rate() { # endpoint seconds: puts/s of a put load on that endpoint
  timeout "$STEP_TIMEOUT" "${KV[@]}" bench --target etcd --endpoints "$1" --clients "$LOAD_CLIENTS" --conns 10 --duration "$2s" \
    --key-space "$KEYS" --warmup 2s --output json | jq -r .throughput
}
run_catchup() {
  command -v etcdctl >/dev/null 2>&1 || { log "installing etcd-client (apt-get)"; apt-get update -qq && apt-get install -y -qq etcd-client >/dev/null; }
  start_akkakv
  local leader follower_id follower_ep pid cmdline keys
  leader="$(leader_endpoint)" || { log "no leader"; exit 3; }
  for id in 1 2 3; do
    if [ "127.0.0.1:$((AKKAKV_CLIENT_PORT + id - 1))" != "$leader" ]; then follower_id=$id; break; fi
  done
  follower_ep="127.0.0.1:$((AKKAKV_CLIENT_PORT + follower_id - 1))"
  pid="$(cat "$AKKA_DATA/n$follower_id.pid")"
  mapfile -d '' cmdline <"/proc/$pid/cmdline"
  kill -TERM "$pid"; while kill -0 "$pid" 2>/dev/null; do sleep 0.2; done
  keys=$((STATE_MIB * 1024))
  log "catchup: node $follower_id stopped; writing about $STATE_MIB MiB ($keys keys of 1 KiB, 3 passes) through $leader"
  timeout "$STEP_TIMEOUT" "${KV[@]}" bench --target etcd --endpoints "$leader" --clients "$LOAD_CLIENTS" --conns 10 \
    --total $((keys * 3)) --key-space "$keys" --value-size 1024 --warmup 0 --output json >/dev/null || log "kv bench exited $?"
  local before snapshot_index snapshot_bytes
  before="$(put_rate "$leader" 10)"
  snapshot_index="$( (status_json "$leader" || true) | jq -r '.[0].Status.akkakvSnapshotIndex // 0' | head -n 1)"
  snapshot_bytes="$( (status_json "$leader" || true) | jq -r '.[0].Status.akkakvSnapshotBytes // 0' | head -n 1)"
  [ "${snapshot_index:-0}" -gt 0 ] || log "the leader reports no snapshot (index 0): the catch-up below is by AppendEntries, not InstallSnapshot"
  log "leader's snapshot: index $snapshot_index, $snapshot_bytes bytes; put rate before: $before/s; restarting node $follower_id"
  timeout "$STEP_TIMEOUT" "${KV[@]}" bench --target etcd --endpoints "$leader" --clients "$LOAD_CLIENTS" --conns 10 --duration 600s \
    --key-space "$KEYS" --warmup 0 --output json >"$workdir/during.json" &
  loadpid=$!
  # The put rate during the catch-up is the leader's store revision moved per second over the catch-up window (every
  # put moves it once), so it does not depend on what the load generator prints when it is stopped.
  # Polled with etcdctl (a Go binary: milliseconds of CPU per call; `kv endpoint status` starts a .NET process each
  # time, which took CPU from the measured leader on this two-core machine before 19:05 UTC 2026-12-06). The leader's
  # revision is also sampled every 0.2 s, for its rate while the snapshot streams (from the leader's log below).
  local started=$EPOCHREALTIME applied=0 rev_before rev_after leader_id log_mark revsampler
  leader_id=$(( ${leader##*:} - AKKAKV_CLIENT_PORT + 1 ))
  log_mark=$(wc -l <"$AKKA_DATA/n$leader_id.log")
  rev_before="$(etcd_revision "$leader")"
  ( while :; do echo "$EPOCHREALTIME $(etcd_revision "$leader")"; sleep 0.2; done ) >"$workdir/revisions" 2>/dev/null &
  revsampler=$!
  setsid "${cmdline[@]}" >>"$AKKA_DATA/n$follower_id.log" 2>&1 </dev/null &
  echo "$!" >"$AKKA_DATA/n$follower_id.pid"
  for _ in $(seq 1 6000); do
    applied="$( (etcd_status "$follower_ep" || true) | jq -r '.[0].Status.raftAppliedIndex // 0' 2>/dev/null | head -n 1 || true)"
    [[ "$applied" =~ ^[0-9]+$ ]] || applied=0
    [ "$applied" -ge "$snapshot_index" ] && [ "$applied" -gt 0 ] && break
    sleep 0.1
  done
  local took ended=$EPOCHREALTIME
  rev_after="$(etcd_revision "$leader")"
  kill "$revsampler" 2>/dev/null; wait "$revsampler" 2>/dev/null || true
  took="$(awk -v a="$started" -v b="$ended" 'BEGIN { printf "%.2f", b - a }')"
  kill -TERM "$loadpid" 2>/dev/null || true; wait "$loadpid" 2>/dev/null || true; loadpid=""
  local during normal
  during="$(awk -v a="$rev_before" -v b="$rev_after" -v t="$took" 'BEGIN { if (t > 0) printf "%.1f", (b - a) / t; else print 0 }')"
  # The cluster's normal rate: the same load once all three members serve again (before it, one member was down, so
  # the leader replicated to one follower and two processes shared the cores).
  normal="$(put_rate "$leader" 10)"
  say "catch-up of node $follower_id through a snapshot of $snapshot_bytes bytes (index $snapshot_index): applied it $took s after restart (applied index $applied)"
  say "leader put rate: $before/s before (two members up), $during/s while the follower caught up (revision $rev_before -> $rev_after), $normal/s after it (three members up)"
  say "during / before: $(ratio "$during" "$before"); during / after (the cluster's normal rate): $(ratio "$during" "$normal"); the issue asks at least 0.5 of the normal rate"
  # While the snapshot streamed: from the leader's "sends snapshot" log line to its "received snapshot ... whole".
  local sent whole
  sent="$(tail -n +"$((log_mark + 1))" "$AKKA_DATA/n$leader_id.log" | grep -m1 -E 'sends snapshot [0-9]+' | grep -oE '^[0-9:.]{12}' || true)"
  whole="$(tail -n +"$((log_mark + 1))" "$AKKA_DATA/n$leader_id.log" | grep -m1 -E 'received snapshot [0-9]+ whole' | grep -oE '^[0-9:.]{12}' || true)"
  if [ -n "$sent" ] && [ -n "$whole" ]; then
    local t0 t1 streaming
    t0="$(date -d "today $sent" +%s.%N)"; t1="$(date -d "today $whole" +%s.%N)"
    streaming="$(awk -v a="$t0" -v b="$t1" '
      $2 ~ /^[0-9]+$/ { t[n] = $1; r[n] = $2; n++ }
      END {
        # the samples nearest before the start and after the end bound the window from outside
        for (i = 0; i < n; i++) { if (t[i] <= a) i0 = i; if (t[i] >= b && i1 == "") i1 = i }
        if (i0 == "" || i1 == "" || t[i1] <= t[i0]) { print "n/a"; exit }
        printf "%.1f %.2f", (r[i1] - r[i0]) / (t[i1] - t[i0]), t[i1] - t[i0]
      }' "$workdir/revisions")"
    if [ "$streaming" != n/a ]; then
      say "leader put rate while the snapshot streamed ($sent -> $whole, sampled over ${streaming#* } s): ${streaming% *}/s ($(ratio "${streaming% *}" "$before") of before, $(ratio "${streaming% *}" "$normal") of after)"
    else
      say "leader put rate while the snapshot streamed ($sent -> $whole): too few revision samples"
    fi
  else
    say "the leader logged no snapshot transfer (sent: '${sent}', whole: '${whole}')"
  fi
  stop_akkakv
}

command -v jq >/dev/null 2>&1 || { log "installing jq (apt-get)"; apt-get install -y -qq jq >/dev/null; }
if [[ " $TARGETS " == *" etcd "* ]] && [[ "$MODE" == rss || "$MODE" == all ]]; then bench_ensure_etcd; fi
case "$MODE" in
  rss) run_rss ;;
  restart) run_restart ;;
  catchup) run_catchup ;;
  all) run_rss; run_restart; run_catchup ;;
esac

echo
echo "snapshot figures ($(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg)):"
for line in "${summary[@]}"; do echo "  $line"; done
if [ -n "${OUT:-}" ]; then printf '%s\n' "${summary[@]}" >>"$OUT"; fi
