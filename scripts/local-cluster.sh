#!/usr/bin/env bash
# A three-node AkkaKv cluster on loopback, as real processes: the lighthouse (seed node, 127.0.0.1:4053,
# pbm 127.0.0.1:9110) and three nodes (4054-4056, pbm 9111-9113, etcd API / health / metrics on client ports
# 2379-2381), the topology of docker-compose.yml.
#
#   scripts/local-cluster.sh up       build once (Release), start nodes 1-3, wait for a leader,
#                                     print the client endpoints and an `export KV_ENDPOINTS=...` line
#   scripts/local-cluster.sh status   each node's process (pid, RSS) and the cluster's answer to a read
#   scripts/local-cluster.sh down     stop the nodes: SIGTERM (orderly shutdown), SIGKILL after DOWN_TIMEOUT
#   scripts/local-cluster.sh up --netns   (as root) each process in its own network namespace with its own
#                                     address on a bridge, as in docker-compose: lighthouse 10.88.0.10, node N
#                                     10.88.0.1N; the host side is 10.88.0.1 (export KV_CLIENT_HOST=10.88.0.1 for kv)
#
# Data under $DATA/n1..n3 (journal, snapshots); logs and pid files in $DATA (n1.log, n1.pid, ...). $DATA defaults to
# ./data/cluster, beside (not inside) the one-node store's files of `dotnet run --project KvCluster.Node` in ./data.
# `up` checks every port it needs first and names the process in the way (the one-node store uses 4054, 2379 and 9110,
# as node 1 and the lighthouse's pbm do here: stop it, or move this cluster with BASE_PORT / PBM_BASE /
# LIGHTHOUSE_PORT / LIGHTHOUSE_PBM).
# `down` keeps the data: the next `up` restarts the same cluster with every committed write.
# Remove $DATA/n1..n3 to start afresh.
#
# Environment: DATA (./data/cluster), BASE_PORT (4054: nodes use 4054/4055/4056), CLIENT_BASE (2379: the nodes'
# etcd client ports 2379/2380/2381; 0 turns them off), PBM_BASE (9111: pbm
# 9111/9112/9113; 0 turns pbm off), SYNC (full: fsync every journal commit), UP_TIMEOUT (60 s to elect a leader),
# DOWN_TIMEOUT (15 s before SIGKILL), SKIP_BUILD (1: use the existing Release build),
# NODE_ARGS (extra flags for every node, e.g. "--tick-ms 50"), NODE_DLL (the node to run: the Release build's
# KvCluster.Node.dll, or a published one), UP_WAIT (1: `up` waits for a leader; 0: it returns once the processes start), LIGHTHOUSE (1: start it; 0: nodes seed
# their own cluster from --peers), LIGHTHOUSE_PORT (4053), LIGHTHOUSE_PBM (9110).
set -euo pipefail
cd "$(dirname "$0")/.."

DATA="${DATA:-./data/cluster}"
BASE_PORT="${BASE_PORT:-4054}"
PBM_BASE="${PBM_BASE:-9111}"
CLIENT_BASE="${CLIENT_BASE:-2379}"
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

NODE_DLL="${NODE_DLL:-KvCluster.Node/bin/Release/net10.0/KvCluster.Node.dll}"
UP_WAIT="${UP_WAIT:-1}"
KV=(dotnet KvCluster.Client/bin/Release/net10.0/kv.dll)

log() { echo "[local-cluster] $*" >&2; }

NETNS="${NETNS:-0}"
[ "${2:-}" = "--netns" ] && NETNS=1
[ -f "$DATA/netns" ] && NETNS=1
NET_PREFIX="${NET_PREFIX:-10.88.0}"
[ "$NETNS" = 1 ] && export KV_CLIENT_HOST="$NET_PREFIX.1"
BRIDGE=akkakv0

port_of() { echo $((BASE_PORT + $1 - 1)); }
client_port_of() { [ "$CLIENT_BASE" -gt 0 ] && echo $((CLIENT_BASE + $1 - 1)) || echo 0; }
etcd_endpoints() {
  local list="" id
  [ "$CLIENT_BASE" -gt 0 ] || return 0
  for id in "${NODES[@]}"; do list+="${list:+,}$(host_of "$id"):$(client_port_of "$id")"; done
  echo "$list"
}
host_of() { # id or "lighthouse"
  if [ "$NETNS" = 1 ]; then
    [ "$1" = lighthouse ] && echo "$NET_PREFIX.10" || echo "$NET_PREFIX.1$1"
  else
    echo 127.0.0.1
  fi
}
in_ns_prefix() { [ "$NETNS" = 1 ] && echo "ip netns exec akkakv-$1"; }
in_ns() { # name, command...: runs the command in the process's namespace (or here, without --netns)
  local name="$1"
  shift
  if [ "$NETNS" = 1 ]; then ip netns exec "akkakv-$name" "$@"; else "$@"; fi
}
netns_up() {
  [ "$NETNS" = 1 ] || return 0
  [ "$(id -u)" -eq 0 ] || { log "--netns needs root (ip netns, veth, a bridge)"; exit 2; }
  ip link add "$BRIDGE" type bridge 2>/dev/null || true
  ip addr add "$NET_PREFIX.1/24" dev "$BRIDGE" 2>/dev/null || true
  ip link set "$BRIDGE" up
  local name address
  for name in lighthouse "${NODES[@]}"; do
    address="$(host_of "$name")"
    ip netns add "akkakv-$name" 2>/dev/null || true
    ip link add "akv-$name" type veth peer name eth0 netns "akkakv-$name" 2>/dev/null || true
    ip link set "akv-$name" master "$BRIDGE" up
    ip netns exec "akkakv-$name" ip addr add "$address/24" dev eth0 2>/dev/null || true
    ip netns exec "akkakv-$name" ip link set eth0 up
    ip netns exec "akkakv-$name" ip link set lo up
  done
  touch "$DATA/netns"
  log "network namespaces akkakv-{lighthouse,1,2,3} on bridge $BRIDGE ($NET_PREFIX.1/24)"
}
netns_down() {
  [ "$NETNS" = 1 ] || return 0
  local name
  for name in lighthouse "${NODES[@]}"; do ip netns del "akkakv-$name" 2>/dev/null || true; done
  ip link del "$BRIDGE" 2>/dev/null || true
  rm -f "$DATA/netns"
  log "network namespaces and bridge $BRIDGE removed"
}
endpoints() {
  local list="" id
  for id in "${NODES[@]}"; do list+="${list:+,}$(host_of "$id"):$(port_of "$id")"; done
  echo "$list"
}
peers() {
  local list="" id
  for id in "${NODES[@]}"; do list+="${list:+,}$id=$(host_of "$id"):$(port_of "$id")"; done
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
seeds() { [ "$LIGHTHOUSE" = 1 ] && echo "akka.tcp://akkakv@$(host_of lighthouse):$LIGHTHOUSE_PORT" || echo ""; }
start_lighthouse() {
  [ "$LIGHTHOUSE" = 1 ] || return 0
  setsid $(in_ns_prefix lighthouse) dotnet "$LIGHTHOUSE_DLL" --host "$(host_of lighthouse)" --port "$LIGHTHOUSE_PORT" \
    --pbm-host "$(host_of lighthouse)" --pbm-port "$LIGHTHOUSE_PBM" \
    >>"$DATA/lighthouse.log" 2>&1 </dev/null &
  echo "$!" >"$DATA/lighthouse.pid"
  log "lighthouse: pid $!, akka.tcp://akkakv@$(host_of lighthouse):$LIGHTHOUSE_PORT (pbm $(host_of lighthouse):$LIGHTHOUSE_PBM), log $DATA/lighthouse.log"
}

start_node() { # id
  local id="$1" port pbm
  port="$(port_of "$id")"
  pbm=0
  [ "$PBM_BASE" -gt 0 ] && pbm=$((PBM_BASE + id - 1))
  mkdir -p "$DATA/n$id"
  # setsid: the node is not in this shell's process group, so Ctrl-C here does not stop it.
  # shellcheck disable=SC2086  # NODE_ARGS is a list of flags
  setsid $(in_ns_prefix "$id") dotnet "$NODE_DLL" --node-id "$id" --host "$(host_of "$id")" --port "$port" --data-dir "$DATA/n$id" \
    --pbm-host "$(host_of "$id")" --pbm-port "$pbm" --client-port "$(client_port_of "$id")" \
    --peers "$(peers)" --seeds "$(seeds)" --sync "$SYNC" $NODE_ARGS >>"$DATA/n$id.log" 2>&1 </dev/null &
  echo "$!" >"$DATA/n$id.pid"
  log "node $id: pid $!, $(host_of "$id"):$port (pbm port $pbm, client port $(client_port_of "$id")), data $DATA/n$id, log $DATA/n$id.log"
}

port_user() { # port: prints what listens on 127.0.0.1:port (or the netns address), nothing when the port is free
  local port="$1" line
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null || return 0
  line="$(ss -Hltnp "sport = :$port" 2>/dev/null | grep -o 'users:(([^)]*' | head -n 1 | sed 's/users:((//')"
  echo "${line:-an unknown process}"
}
check_ports() { # every port `up` is about to bind, with the process in the way named
  [ "$NETNS" = 1 ] && return 0 # each process has its own address then
  local id port user busy=0 ports=()
  [ "$LIGHTHOUSE" = 1 ] && ports+=("$LIGHTHOUSE_PORT:lighthouse" "$LIGHTHOUSE_PBM:lighthouse pbm")
  for id in "${NODES[@]}"; do
    ports+=("$(port_of "$id"):node $id")
    [ "$PBM_BASE" -gt 0 ] && ports+=("$((PBM_BASE + id - 1)):node $id pbm")
    [ "$CLIENT_BASE" -gt 0 ] && ports+=("$(client_port_of "$id"):node $id client port")
  done
  for entry in "${ports[@]}"; do
    port="${entry%%:*}"
    user="$(port_user "$port")"
    if [ -n "$user" ]; then
      log "port $port (for the ${entry#*:}) is in use by $user"
      busy=1
    fi
  done
  if [ "$busy" = 1 ]; then
    log "stop what is in the way (the one-node store of 'dotnet run --project KvCluster.Node' uses 4054, 2379 and 9110),"
    log "or move this cluster: BASE_PORT=5054 PBM_BASE=9211 CLIENT_BASE=5379 LIGHTHOUSE_PORT=5053 LIGHTHOUSE_PBM=9210 $0 up"
    exit 1
  fi
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
  check_ports
  build
  netns_up
  start_lighthouse
  for id in "${NODES[@]}"; do start_node "$id"; done
  if [ "$UP_WAIT" = 0 ]; then
    echo "AkkaKv cluster starting: 3 nodes, sync=$SYNC, data under $DATA/n1..n3 (UP_WAIT=0: not waiting for a leader)"
    return 0
  fi

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
    if answer="$(timeout 20 "${KV[@]}" --via akka --endpoints "$(endpoints)" put "$PROBE_KEY" "up $(date -u +%FT%TZ)" 2>&1)"; then
      # Two nodes make a quorum: check that the third did not fail meanwhile (a port in use, say).
      for id in "${NODES[@]}"; do
        if [ -z "$(pid_of "$id")" ]; then
          log "node $id exited during start-up; last lines of $DATA/n$id.log:"
          tail -n 3 "$DATA/n$id.log" | cut -c1-400 >&2
          cmd_down
          exit 1
        fi
      done
      echo "AkkaKv cluster up: 3 nodes$([ "$NETNS" = 1 ] && echo " in network namespaces" || echo " on loopback"), sync=$SYNC, data under $DATA/n1..n3"
      [ "$LIGHTHOUSE" = 1 ] && echo "lighthouse: akka.tcp://akkakv@$(host_of lighthouse):$LIGHTHOUSE_PORT; inspect with: kv pbm $(host_of lighthouse):$LIGHTHOUSE_PBM cluster show"
      [ "$NETNS" = 1 ] && echo "export KV_CLIENT_HOST=$NET_PREFIX.1   # kv's own address on the bridge, for replies"
      echo "client endpoints: $(endpoints)"
      echo "export KV_ENDPOINTS=$(endpoints)"
      [ "$CLIENT_BASE" -gt 0 ] && echo "etcd endpoints (etcdctl --endpoints): $(etcd_endpoints)"
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
  netns_down
}

cmd_status() {
  local id pid up=0
  for id in "${NODES[@]}"; do
    pid="$(pid_of "$id")"
    if [ -n "$pid" ]; then
      up=$((up + 1))
      printf 'node %s  running  pid %-7s %s:%s  rss %s\n' "$id" "$pid" "$(host_of "$id")" "$(port_of "$id")" "$(rss_mib "$pid")"
    else
      printf 'node %s  stopped                 127.0.0.1:%s\n' "$id" "$(port_of "$id")"
    fi
  done
  pid="$(pid_of lighthouse)"
  if [ -n "$pid" ]; then
    printf 'lighthouse running  pid %-7s %s:%s  rss %s  (pbm %s:%s)\n' "$pid" "$(host_of lighthouse)" "$LIGHTHOUSE_PORT" "$(rss_mib "$pid")" "$(host_of lighthouse)" "$LIGHTHOUSE_PBM"
  fi
  if [ "$up" -eq 0 ]; then
    echo "cluster: not running (start it with: $0 up)"
    return 3
  fi
  local answer status=0
  answer="$(timeout 20 "${KV[@]}" --via akka --endpoints "$(endpoints)" get "$PROBE_KEY" 2>&1)" || status=$?
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
