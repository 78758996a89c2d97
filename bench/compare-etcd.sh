#!/usr/bin/env bash
# Side-by-side comparison of AkkaKv and etcd 3.4 with one load generator, `kv bench`.
#
# Starts a three-member etcd cluster on loopback (fsync on, data in a temporary directory), runs
# etcd's standard workloads through `kv bench --target etcd`, stops etcd and cleans up:
#   put 256 B values, 8 B keys: 1 client on 1 connection to the leader;
#                               1000 clients over 100 connections to all members;
#   linearizable get,  1000 clients over 100 connections to all members;
#   serializable get,  1000 clients over 100 connections to all members.
# Each workload runs DURATION (default 10s). The whole script is bounded (timeouts on every
# step; about 2 minutes with the defaults). Its last line is the comparison verdict.
#
# Environment: DURATION (10s), BASE_PORT (42379; members use BASE+0/1, BASE+10/11, BASE+20/21),
#              KEY_SPACE (100000), WARMUP (2s), OUT (a file that receives the JSON lines; optional).
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION="${DURATION:-10s}"
BASE_PORT="${BASE_PORT:-42379}"
KEY_SPACE="${KEY_SPACE:-100000}"
WARMUP="${WARMUP:-2s}"  # discarded load before each measurement (JIT tiering)
RUN_TIMEOUT=120   # seconds per kv bench run: the run itself is DURATION plus one request timeout

log() { echo "[compare-etcd] $*" >&2; }

# --- prerequisites -------------------------------------------------------------------------
if ! command -v etcd >/dev/null 2>&1; then
  log "installing etcd-server (apt-get)"
  apt-get update -qq && apt-get install -y -qq etcd-server >/dev/null
fi
log "$(etcd --version | head -n 1)"

log "building kv"
timeout 600 dotnet build KvCluster.Client -c Release -v quiet -nologo >/dev/null
KV=(dotnet KvCluster.Client/bin/Release/net10.0/kv.dll)

# --- etcd cluster --------------------------------------------------------------------------
workdir="$(mktemp -d -t kv-compare-etcd-XXXXXX)"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$workdir"
}
trap cleanup EXIT

cluster=""
client_urls=()
for i in 0 1 2; do
  cluster+="${cluster:+,}m$i=http://127.0.0.1:$((BASE_PORT + i * 10 + 1))"
  client_urls+=("127.0.0.1:$((BASE_PORT + i * 10))")
done
for i in 0 1 2; do
  client="http://127.0.0.1:$((BASE_PORT + i * 10))"
  peer="http://127.0.0.1:$((BASE_PORT + i * 10 + 1))"
  etcd --name "m$i" --data-dir "$workdir/m$i" \
    --listen-client-urls "$client" --advertise-client-urls "$client" \
    --listen-peer-urls "$peer" --initial-advertise-peer-urls "$peer" \
    --initial-cluster "$cluster" --initial-cluster-token kv-compare --initial-cluster-state new \
    --logger zap --log-outputs stderr --log-level warn >"$workdir/m$i.log" 2>&1 &
  pids+=("$!")
done
all_endpoints="$(IFS=,; echo "${client_urls[*]}")"

healthy=0
for _ in $(seq 1 120); do
  healthy=0
  for url in "${client_urls[@]}"; do
    health="$(curl -fsS --max-time 2 "http://$url/health" 2>/dev/null || true)"
    if grep -q '"health":"true"' <<<"$health"; then
      healthy=$((healthy + 1))
    fi
  done
  [ "$healthy" -eq 3 ] && break
  sleep 0.5
done
if [ "$healthy" -ne 3 ]; then
  log "etcd cluster did not become healthy within 60 s"; tail -n 5 "$workdir"/m*.log >&2; exit 3
fi

leader=""
for url in "${client_urls[@]}"; do
  metrics="$(curl -fsS --max-time 5 "http://$url/metrics" || true)"
  if grep -q '^etcd_server_is_leader 1' <<<"$metrics"; then leader="$url"; fi
done
[ -n "$leader" ] || { log "no etcd leader found"; exit 3; }
log "etcd cluster up: $all_endpoints (leader $leader), data in $workdir"

# --- workloads -----------------------------------------------------------------------------
etcd_cpu() { # total user+system CPU seconds of the etcd members so far
  local ticks=0 pid
  for pid in "${pids[@]}"; do
    ticks=$((ticks + $(awk '{print $14 + $15}' "/proc/$pid/stat")))
  done
  awk -v t="$ticks" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.2f", t / hz }'
}

field() { # first value of "name": in a flat JSON text (the overall figures come first)
  grep -o "\"$1\":[-0-9.e]*" <<<"$2" | head -n 1 | cut -d: -f2
}

results=()
run() { # name endpoints clients conns read-ratio consistency [key-size value-size duration]
  local name="$1" endpoints="$2" clients="$3" conns="$4" ratio="$5" consistency="$6"
  local key_size="${7:-8}" value_size="${8:-256}" duration="${9:-$DURATION}"
  local load before after json cpu_file
  load="$(cut -d' ' -f1-3 /proc/loadavg)"
  before="$(etcd_cpu)"
  cpu_file="$workdir/cpu"
  local TIMEFORMAT='%U %S' status=0
  { time json="$(timeout "$RUN_TIMEOUT" "${KV[@]}" bench --target etcd \
      --endpoints "$endpoints" --clients "$clients" --conns "$conns" --duration "$duration" \
      --key-size "$key_size" --value-size "$value_size" --key-space "$KEY_SPACE" --read-ratio "$ratio" \
      --consistency "$consistency" --warmup "$WARMUP" --output json 2>>"$workdir/kv.err")" || status=$? ; } 2>"$cpu_file"
  [ "$status" -eq 0 ] || { log "$name: kv bench exited with $status: $(tail -n 1 "$workdir/kv.err")"; }
  after="$(etcd_cpu)"
  local client_cpu etcd_cpu_used
  client_cpu="$(awk '{printf "%.1f", $1 + $2}' "$cpu_file")"
  etcd_cpu_used="$(awk -v a="$after" -v b="$before" 'BEGIN { printf "%.1f", a - b }')"
  echo "$json"
  if [ -n "${OUT:-}" ]; then
    echo "{\"workload\":\"$name\",\"loadavg\":\"$load\",\"clientCpuSeconds\":$client_cpu,\"etcdCpuSeconds\":$etcd_cpu_used,\"result\":${json:-null}}" >>"$OUT"
  fi
  if [ -z "$json" ]; then
    results+=("$(printf '%-36s %s' "$name" "no result (exit $status)")")
    return
  fi
  results+=("$(printf '%-36s %9.0f %8.2f %8.2f %8.2f %8.2f %8.1f %6d %6s %6s  %s' "$name" \
    "$(field throughput "$json")" "$(field p50 "$json")" "$(field p90 "$json")" "$(field p99 "$json")" \
    "$(field p999 "$json")" "$(field max "$json")" "$(field errors "$json")" "$client_cpu" "$etcd_cpu_used" "$load")")
}

log "etcd: each workload runs $DURATION"
run "put 256B, 1 client (leader)"       "$leader"        1    1   0 l
run "put 256B, 1000 clients / 100 conns" "$all_endpoints" 1000 100 0 l
run "get linearizable, 1000c / 100 conns" "$all_endpoints" 1000 100 1 l
run "get serializable, 1000c / 100 conns" "$all_endpoints" 1000 100 1 s

# --- optional cross-check of the driver against etcd's own Go client -------------------------
# VALIDATE=1: `etcdctl check perf --load=l` (clientv3, 500 clients each on its own connection,
# 256 B keys under a 20 B prefix, 1 KiB values, random keys, 60 s, rate limit 8000/s) and then
# `kv bench` with the same shape, one after the other on the same cluster.
check_perf=""
if [ "${VALIDATE:-0}" = 1 ]; then
  command -v etcdctl >/dev/null 2>&1 || apt-get install -y -qq etcd-client >/dev/null
  # kv first: etcdctl deletes its keys at the end in one large transaction, which would stall
  # the next run's connection probes.
  log "validation: kv bench with the check-perf shape (60 s)"
  run "kv: check-perf shape 500c/500 conns" "$all_endpoints" 500 500 0 l 276 1024 60s
  log "validation: etcdctl check perf --load=l (60 s)"
  check_load="$(cut -d' ' -f1-3 /proc/loadavg)"
  ETCDCTL_API=3 timeout 300 etcdctl --endpoints="$all_endpoints" --command-timeout=30s check perf --load=l \
    >"$workdir/check-perf.txt" 2>&1 || true
  check_perf="$(tr '\r' '\n' <"$workdir/check-perf.txt" | grep -oE '(PASS|FAIL)[^%]*$' | tr '\n' ';')"
  [ -n "$check_perf" ] || check_perf="no result: $(tr '\r' '\n' <"$workdir/check-perf.txt" | tail -n 3 | tr '\n' ' ')"
fi

echo
echo "etcd $(etcd --version | head -n 1 | awk '{print $3}'), 3 members on loopback, fsync on; $(nproc) cores; kv bench $DURATION per workload"
printf '%-36s %9s %8s %8s %8s %8s %8s %6s %6s %6s  %s\n' workload 'req/s' 'p50 ms' 'p90 ms' 'p99 ms' 'p99.9' 'max ms' errors 'kv s' 'etcd s' 'load (1/5/15 min)'
printf '%s\n' "${results[@]}"
if [ -n "$check_perf" ]; then
  echo "etcdctl check perf --load=l (Go clientv3, same shape; load $check_load): $check_perf"
fi

# --- AkkaKv target: not available yet ------------------------------------------------------
# When the AkkaKv node and client library exist: start a three-node AkkaKv cluster here, run
# the same four workloads with `kv bench --target akkakv`, and print, as the last line,
#   vs etcd: put 1c X.XXx, put 1000c X.XXx, get-l X.XXx, get-s X.XXx (AkkaKv/etcd throughput)
echo
echo "AkkaKv target: not available yet (the AkkaKv node and client library are not built)"
echo "vs etcd: AkkaKv not built yet"
