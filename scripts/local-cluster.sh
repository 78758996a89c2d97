#!/usr/bin/env bash
# A three-node AkkaKv cluster on loopback, as real processes: the lighthouse (seed node, 127.0.0.1:4053,
# pbm 127.0.0.1:9110) and three nodes (4054-4056, pbm 9111-9113), the topology of docker-compose.yml.
#
#   scripts/local-cluster.sh up       build once (Release), start nodes 1-3, wait for a leader,
#                                     print the client endpoints and an `export KV_ENDPOINTS=...` line
#   scripts/local-cluster.sh status   each node's process (pid, RSS) and the cluster's answer to a read
#   scripts/local-cluster.sh down     stop the nodes: SIGTERM (orderly shutdown), SIGKILL after DOWN_TIMEOUT
#
# Data under $DATA/n1..n3 (journal, snapshots); logs and pid files in $DATA (n1.log, n1.pid, ...).
# `down` keeps the data: the next `up` restarts the same cluster with every committed write.
# Remove $DATA/n1..n3 to start afresh.
#
# Environment: DATA (./data), BASE_PORT (4054: nodes use 4054/4055/4056), PBM_BASE (9111: pbm
# 9111/9112/9113; 0 turns pbm off), SYNC (full: fsync every journal commit), UP_TIMEOUT (60 s to elect a leader),
# DOWN_TIMEOUT (15 s before SIGKILL), SKIP_BUILD (1: use the existing Release build),
# NODE_ARGS (extra flags for every node, e.g. "--tick-ms 50"), LIGHTHOUSE (1: start it; 0: nodes seed
# their own cluster from --peers), LIGHTHOUSE_PORT (4053), LIGHTHOUSE_PBM (9110).
set -euo pipefail
cd "$(dirname "$0")/.."

DATA="${DATA:-./data}"
BASE_PORT="${BASE_PORT:-4054}"
PBM_BASE="${PBM_BASE:-9111}"
SYNC="${SYNC:-full}"
UP_TIMEOUT="${UP_TIMEOUT:-60}"
DOWN_TIMEOUT="${DOWN_TIMEOUT:-15}"
NODE_ARGS="${NODE_ARGS:-}"
LIGHTHOUSE="${LIGHTHOUSE:-1}"
LIGHTHOUSE_PORT="${LIGHTHOUSE_PORT:-4053}"
LIGHTHOUSE_PBM="${LIGHTHOUSE_PBM:-9110}"
LIGHTHOUSE_DLL=lighthouse/bin/Release/net10.0/lighthouse.dll
NODES=(1 2 3)
PROBE_KEY="local-cluster-probe"

NODE_DLL=KvCluster.Node/bin/Release/net10.0/KvCluster.Node.dll
KV=(dotnet KvCluster.Client/bin/Release/net10.0/kv.dll)

log() { echo "[local-cluster] $*" >&2; }

port_of() { echo $((BASE_PORT + $1 - 1)); }
endpoints() {
  local list="" id
  for id in "${NODES[@]}"; do list+="${list:+,}127.0.0.1:$(port_of "$id")"; done
  echo "$list"
}
peers() {
  local list="" id
  for id in "${NODES[@]}"; do list+="${list:+,}$id=127.0.0.1:$(port_of "$id")"; done
  echo "$list"
}
pid_of() { # the live pid of node $1 (or of "lighthouse"), or nothing
  local file="$DATA/n$1.pid" pid
  [ "$1" = lighthouse ] && file="$DATA/lighthouse.pid"
  [ -f "$file" ] || return 0
  pid="$(cat "$file")"
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then echo "$pid"; fi
}
rss_mib() { awk '/^VmRSS:/ { printf "%.0f MiB", $2 / 1024 }' "/proc/$1/status" 2>/dev/null || echo "?"; }

build() {
  if [ "${SKIP_BUILD:-0}" = 1 ] && [ -f "$NODE_DLL" ] && [ -f "${KV[1]}" ] && [ -f "$LIGHTHOUSE_DLL" ]; then
    return
  fi
  log "building KvCluster.Node and kv (Release)"
  timeout 900 dotnet build KvCluster.Node -c Release -v quiet -nologo >"$DATA/build.log" 2>&1 \
    && timeout 900 dotnet build KvCluster.Client -c Release -v quiet -nologo >>"$DATA/build.log" 2>&1 \
    && timeout 900 dotnet build lighthouse -c Release -v quiet -nologo >>"$DATA/build.log" 2>&1 \
    || { log "build failed; see $DATA/build.log"; tail -n 20 "$DATA/build.log" >&2; exit 1; }
}

# --- lighthouse (seed node) ------------------------------------------------------------------
seeds() { [ "$LIGHTHOUSE" = 1 ] && echo "kv://akkakv@127.0.0.1:$LIGHTHOUSE_PORT" || echo ""; }
start_lighthouse() {
  [ "$LIGHTHOUSE" = 1 ] || return 0
  setsid dotnet "$LIGHTHOUSE_DLL" --host 127.0.0.1 --port "$LIGHTHOUSE_PORT" --pbm-port "$LIGHTHOUSE_PBM" \
    >>"$DATA/lighthouse.log" 2>&1 </dev/null &
  echo "$!" >"$DATA/lighthouse.pid"
  log "lighthouse: pid $!, kv://akkakv@127.0.0.1:$LIGHTHOUSE_PORT (pbm 127.0.0.1:$LIGHTHOUSE_PBM), log $DATA/lighthouse.log"
}

start_node() { # id
  local id="$1" port pbm
  port="$(port_of "$id")"
  pbm=0
  [ "$PBM_BASE" -gt 0 ] && pbm=$((PBM_BASE + id - 1))
  mkdir -p "$DATA/n$id"
  # setsid: the node is not in this shell's process group, so Ctrl-C here does not stop it.
  # shellcheck disable=SC2086  # NODE_ARGS is a list of flags
  setsid dotnet "$NODE_DLL" --node-id "$id" --port "$port" --data-dir "$DATA/n$id" --pbm-port "$pbm" \
    --peers "$(peers)" --seeds "$(seeds)" --sync "$SYNC" $NODE_ARGS >>"$DATA/n$id.log" 2>&1 </dev/null &
  echo "$!" >"$DATA/n$id.pid"
  log "node $id: pid $!, 127.0.0.1:$port (pbm port $pbm), data $DATA/n$id, log $DATA/n$id.log"
}

cmd_up() {
  mkdir -p "$DATA"
  local id running=()
  for id in "${NODES[@]}"; do
    [ -n "$(pid_of "$id")" ] && running+=("$id")
  done
  if [ "${#running[@]}" -gt 0 ]; then
    log "already running: node(s) ${running[*]} (see: $0 status; stop with: $0 down)"
    exit 1
  fi
  build
  start_lighthouse
  for id in "${NODES[@]}"; do start_node "$id"; done

  log "waiting up to ${UP_TIMEOUT}s for a leader (kv put $PROBE_KEY)"
  local deadline=$((SECONDS + UP_TIMEOUT)) answer=""
  while [ "$SECONDS" -lt "$deadline" ]; do
    for id in "${NODES[@]}"; do
      if [ -z "$(pid_of "$id")" ]; then
        log "node $id exited during start-up; last lines of $DATA/n$id.log:"
        tail -n 15 "$DATA/n$id.log" >&2
        cmd_down
        exit 1
      fi
    done
    if answer="$(timeout 20 "${KV[@]}" --endpoints "$(endpoints)" put "$PROBE_KEY" "up $(date -u +%FT%TZ)" 2>&1)"; then
      # Two nodes make a quorum: check that the third did not fail meanwhile (a port in use, say).
      for id in "${NODES[@]}"; do
        if [ -z "$(pid_of "$id")" ]; then
          log "node $id exited during start-up; last lines of $DATA/n$id.log:"
          tail -n 3 "$DATA/n$id.log" | cut -c1-400 >&2
          cmd_down
          exit 1
        fi
      done
      echo "AkkaKv cluster up: 3 nodes on loopback, sync=$SYNC, data under $DATA/n1..n3"
      [ "$LIGHTHOUSE" = 1 ] && echo "lighthouse: kv://akkakv@127.0.0.1:$LIGHTHOUSE_PORT; inspect with: kv pbm 127.0.0.1:$LIGHTHOUSE_PBM cluster show"
      echo "client endpoints: $(endpoints)"
      echo "export KV_ENDPOINTS=$(endpoints)"
      return 0
    fi
    sleep 1
  done
  log "no leader within ${UP_TIMEOUT}s (last answer: $answer); the nodes keep running: see $0 status, $DATA/n*.log"
  exit 1
}

cmd_down() {
  local id pid stopping=()
  for id in "${NODES[@]}"; do
    pid="$(pid_of "$id")"
    if [ -n "$pid" ]; then
      kill -TERM "$pid" 2>/dev/null || true
      stopping+=("$id:$pid")
    fi
  done
  local deadline=$((SECONDS + DOWN_TIMEOUT)) entry alive
  while :; do
    alive=()
    for entry in "${stopping[@]}"; do
      kill -0 "${entry#*:}" 2>/dev/null && alive+=("$entry")
    done
    [ "${#alive[@]}" -eq 0 ] && break
    if [ "$SECONDS" -ge "$deadline" ]; then
      for entry in "${alive[@]}"; do
        log "node ${entry%%:*} (pid ${entry#*:}) did not stop within ${DOWN_TIMEOUT}s: SIGKILL"
        kill -KILL "${entry#*:}" 2>/dev/null || true
      done
      break
    fi
    sleep 0.2
  done
  for entry in "${stopping[@]}"; do log "node ${entry%%:*} (pid ${entry#*:}) stopped"; done
  [ "${#stopping[@]}" -eq 0 ] && log "no node was running"
  for id in "${NODES[@]}"; do rm -f "$DATA/n$id.pid"; done
  pid="$(pid_of lighthouse)"
  if [ -n "$pid" ]; then
    kill -TERM "$pid" 2>/dev/null || true
    deadline=$((SECONDS + DOWN_TIMEOUT))
    while kill -0 "$pid" 2>/dev/null && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.2; done
    kill -KILL "$pid" 2>/dev/null || true
    log "lighthouse (pid $pid) stopped"
  fi
  rm -f "$DATA/lighthouse.pid"
}

cmd_status() {
  local id pid up=0
  for id in "${NODES[@]}"; do
    pid="$(pid_of "$id")"
    if [ -n "$pid" ]; then
      up=$((up + 1))
      printf 'node %s  running  pid %-7s 127.0.0.1:%s  rss %s\n' "$id" "$pid" "$(port_of "$id")" "$(rss_mib "$pid")"
    else
      printf 'node %s  stopped                 127.0.0.1:%s\n' "$id" "$(port_of "$id")"
    fi
  done
  pid="$(pid_of lighthouse)"
  if [ -n "$pid" ]; then
    printf 'lighthouse running  pid %-7s 127.0.0.1:%s  rss %s  (pbm 127.0.0.1:%s)\n' "$pid" "$LIGHTHOUSE_PORT" "$(rss_mib "$pid")" "$LIGHTHOUSE_PBM"
  fi
  if [ "$up" -eq 0 ]; then
    echo "cluster: not running (start it with: $0 up)"
    return 3
  fi
  local answer status=0
  answer="$(timeout 20 "${KV[@]}" --endpoints "$(endpoints)" get "$PROBE_KEY" 2>&1)" || status=$?
  echo "cluster: kv get $PROBE_KEY -> exit $status: $(tr '\n' ' ' <<<"$answer")"
  echo "export KV_ENDPOINTS=$(endpoints)"
  return "$status"
}

case "${1:-}" in
  up) cmd_up ;;
  down) cmd_down ;;
  status) cmd_status ;;
  *)
    echo "usage: $0 up|down|status   (see the comment at the top of this script for settings)" >&2
    exit 2
    ;;
esac
