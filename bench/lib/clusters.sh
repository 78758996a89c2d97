# Shared by the whole-cluster benchmark scripts in bench/ (compare-etcd.sh, watch-fanout.sh, lease-churn.sh,
# snapshot-figures.sh): the same three-member etcd 3.4 and three-node AkkaKv on loopback, started, awaited and
# stopped the same way, so that the systems a script compares differ only in the store.
#
# Source it after `cd` to the repository root, with `log` defined and `$workdir` set to the run's temporary
# directory. Every wait is bounded.
#
#   bench_ensure_etcd                  installs Debian's etcd-server when `etcd` is missing (apt-get)
#   bench_build PROJECT...             builds the projects (Release) unless SKIP_BUILD=1 and their DLLs exist
#   await_health HOST:PORT...          waits (60 s) until every endpoint's GET /health says "true"
#   etcd_up BASE_PORT TOKEN            three etcd members: client BASE+0/+10/+20, peer one above; data in
#                                      $workdir/etcd/m0..m2, logs $workdir/etcd-m0..2.log, ETCD_ARGS (extra flags
#                                      for every member, e.g. "--snapshot-count 2000"); exits 3 if not healthy.
#                                      Sets ETCD_PIDS, ETCD_URLS (host:port), ETCD_ENDPOINTS (comma-separated),
#                                      ETCD_DIRS
#   etcd_leader                        prints the client endpoint of etcd's leader (from /metrics), or nothing
#   etcd_down                          SIGTERM to the members, then waits for them
#   akkakv_cluster up|down|status      scripts/local-cluster.sh with AKKAKV_PORT / AKKAKV_CLIENT_PORT (node and
#                                      etcd-API ports +0/+1/+2), data in $AKKAKV_DATA ($workdir/akkakv), no
#                                      lighthouse, no pbm, fsync on, AKKAKV_NODE_ARGS for every node, the node
#                                      AKKAKV_NODE_DLL (default: the Release build), AKKAKV_UP_WAIT (0: `up` does
#                                      not wait for a leader)
#   bench_publish_node DIR             publishes KvCluster.Node (Release, ReadyToRun as its project says: the way the
#                                      Dockerfile ships it) to DIR; set AKKAKV_NODE_DLL=DIR/KvCluster.Node.dll to run it
#   akkakv_up                          `akkakv_cluster up` (its stdout in $AKKAKV_UP_OUT), then await_health; exits 3
#                                      if it fails. Sets AKKAKV_PIDS, AKKAKV_URLS, AKKAKV_ENDPOINTS, AKKAKV_DIRS
#   akkakv_down                        `akkakv_cluster down` if up (the data stays in $AKKAKV_DATA)
#   bench_clusters_down                both downs: call it from the script's EXIT trap
#   bench_cpu_seconds PID...           user+system CPU seconds the processes used so far (/proc/PID/stat)

AKKAKV_PORT="${AKKAKV_PORT:?set AKKAKV_PORT before sourcing bench/lib/clusters.sh}"
AKKAKV_CLIENT_PORT="${AKKAKV_CLIENT_PORT:?set AKKAKV_CLIENT_PORT before sourcing bench/lib/clusters.sh}"
AKKAKV_DATA="${AKKAKV_DATA:-$workdir/akkakv}"
AKKAKV_NODE_ARGS="${AKKAKV_NODE_ARGS:-}"
AKKAKV_UP_TIMEOUT="${AKKAKV_UP_TIMEOUT:-120}"
AKKAKV_NODE_DLL="${AKKAKV_NODE_DLL:-KvCluster.Node/bin/Release/net10.0/KvCluster.Node.dll}"
AKKAKV_UP_WAIT="${AKKAKV_UP_WAIT:-1}"
ETCD_PIDS=()
AKKAKV_PIDS=()
_akkakv_running=0

bench_ensure_etcd() {
  command -v etcd >/dev/null 2>&1 && return 0
  log "installing etcd-server (apt-get)"
  apt-get update -qq && apt-get install -y -qq etcd-server >/dev/null
}

bench_build() {
  local project dll missing=0
  if [ "${SKIP_BUILD:-0}" = 1 ]; then
    for project in "$@"; do
      dll="$project/bin/Release/net10.0/$(basename "$project").dll"
      [ "$project" = KvCluster.Client ] && dll=KvCluster.Client/bin/Release/net10.0/kv.dll
      [ -f "$dll" ] || missing=1
    done
    if [ "$missing" = 0 ]; then log "SKIP_BUILD=1: using the existing Release builds of $*"; return 0; fi
  fi
  for project in "$@"; do
    log "building $project (Release)"
    timeout 900 dotnet build "$project" -c Release -v quiet -nologo >/dev/null
  done
}

bench_publish_node() {
  log "publishing KvCluster.Node (Release, ReadyToRun) to $1"
  timeout 1800 dotnet publish KvCluster.Node -c Release -o "$1" -v quiet -nologo >"$1.publish.log" 2>&1 \
    || { log "publishing the node failed; see $1.publish.log"; tail -n 5 "$1.publish.log" >&2; exit 3; }
}

await_health() {
  local healthy url health
  for _ in $(seq 1 120); do
    healthy=0
    for url in "$@"; do
      health="$(curl -fsS --max-time 2 "http://$url/health" 2>/dev/null || true)"
      if grep -q '"health":"true"' <<<"$health"; then healthy=$((healthy + 1)); fi
    done
    [ "$healthy" -eq "$#" ] && return 0
    sleep 0.5
  done
  return 1
}

etcd_up() {
  local base="$1" token="$2" cluster="" i client peer
  ETCD_URLS=(); ETCD_DIRS=(); ETCD_PIDS=()
  for i in 0 1 2; do
    cluster+="${cluster:+,}m$i=http://127.0.0.1:$((base + i * 10 + 1))"
    ETCD_URLS+=("127.0.0.1:$((base + i * 10))")
    ETCD_DIRS+=("$workdir/etcd/m$i")
  done
  for i in 0 1 2; do
    client="http://127.0.0.1:$((base + i * 10))"
    peer="http://127.0.0.1:$((base + i * 10 + 1))"
    etcd --name "m$i" --data-dir "$workdir/etcd/m$i" \
      --listen-client-urls "$client" --advertise-client-urls "$client" \
      --listen-peer-urls "$peer" --initial-advertise-peer-urls "$peer" \
      --initial-cluster "$cluster" --initial-cluster-token "$token" --initial-cluster-state new \
      --logger zap --log-outputs stderr --log-level warn ${ETCD_ARGS:-} >"$workdir/etcd-m$i.log" 2>&1 &
    ETCD_PIDS+=("$!")
  done
  ETCD_ENDPOINTS="$(IFS=,; echo "${ETCD_URLS[*]}")"
  if ! await_health "${ETCD_URLS[@]}"; then
    log "etcd did not become healthy within 60 s"; tail -n 5 "$workdir"/etcd-m*.log >&2; exit 3
  fi
  log "etcd up: $ETCD_ENDPOINTS (pids ${ETCD_PIDS[*]}), data in $workdir/etcd"
}

etcd_leader() {
  local url metrics
  for url in "${ETCD_URLS[@]}"; do
    # Into a variable first: with pipefail, grep -q closing the pipe early would fail curl and the test.
    metrics="$(curl -fsS --max-time 5 "http://$url/metrics" 2>/dev/null || true)"
    if grep -q '^etcd_server_is_leader 1' <<<"$metrics"; then echo "$url"; return 0; fi
  done
}

etcd_down() {
  local pid
  for pid in "${ETCD_PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${ETCD_PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  ETCD_PIDS=()
}

akkakv_cluster() {
  DATA="$AKKAKV_DATA" BASE_PORT="$AKKAKV_PORT" CLIENT_BASE="$AKKAKV_CLIENT_PORT" PBM_BASE=0 LIGHTHOUSE=0 SKIP_BUILD=1 \
    SYNC=full UP_TIMEOUT="$AKKAKV_UP_TIMEOUT" NODE_ARGS="$AKKAKV_NODE_ARGS" NODE_DLL="$AKKAKV_NODE_DLL" UP_WAIT="$AKKAKV_UP_WAIT" \
    scripts/local-cluster.sh "$@"
}

akkakv_up() {
  local id
  _akkakv_running=1
  if ! AKKAKV_UP_OUT="$(akkakv_cluster up 2>"$workdir/akkakv-up.err")"; then
    log "AkkaKv did not come up: $(tail -n 5 "$workdir/akkakv-up.err")"; exit 3
  fi
  AKKAKV_PIDS=(); AKKAKV_URLS=(); AKKAKV_DIRS=()
  for id in 1 2 3; do
    AKKAKV_PIDS+=("$(cat "$AKKAKV_DATA/n$id.pid")")
    AKKAKV_URLS+=("127.0.0.1:$((AKKAKV_CLIENT_PORT + id - 1))")
    AKKAKV_DIRS+=("$AKKAKV_DATA/n$id")
  done
  AKKAKV_ENDPOINTS="$(IFS=,; echo "${AKKAKV_URLS[*]}")"
  await_health "${AKKAKV_URLS[@]}" || { log "AkkaKv did not become healthy within 60 s"; exit 3; }
  log "AkkaKv up: $AKKAKV_ENDPOINTS (pids ${AKKAKV_PIDS[*]}), data in $AKKAKV_DATA"
}

akkakv_down() {
  [ "$_akkakv_running" = 1 ] || return 0
  akkakv_cluster down >/dev/null 2>&1 || true
  _akkakv_running=0
}

bench_clusters_down() { etcd_down; akkakv_down; }

bench_cpu_seconds() {
  local ticks=0 pid
  for pid in "$@"; do
    ticks=$((ticks + $(awk '{print $14 + $15}' "/proc/$pid/stat")))
  done
  awk -v t="$ticks" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.2f", t / hz }'
}
