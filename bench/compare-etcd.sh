#!/usr/bin/env bash
# Side-by-side comparison of AkkaKv and etcd 3.4 with one load generator, `kv bench`.
#
# In one run, one system after the other (never both at once), on loopback, fsync on, data in a
# temporary directory:
#   1. a three-member etcd cluster (Debian's etcd-server);
#   2. a three-node AkkaKv cluster as three node processes (scripts/local-cluster.sh, --sync full), each node
#      serving the etcd v3 gRPC API on its client port (AKKAKV_CLIENT_PORT + 0/1/2);
# both driven by the same etcd-API driver, `kv bench --target etcd` (Grpc.Net.Client: one HTTP/2 connection per
# --conns, many concurrent calls on each), with the same workloads (8 B keys drawn from KEY_SPACE, 256 B values):
#   put,               1 client on 1 connection (to the leader);
#   put,               1000 clients over 100 connections spread over all members;
#   linearizable get,  1000 clients over 100 connections;
#   serializable get,  1000 clients over 100 connections;
#   txn of 10 puts,    1000 clients over 100 connections (10 consecutive keys per txn, one revision each).
# VIA_AKKA=1 adds AkkaKv's own Akka.NET ClusterClient path (`kv bench --target akkakv`, node ports) as a third
# system, "akka-cc", with the same workloads except the txn.
# Each system first gets PREWARM of discarded load; each workload runs WARMUP (discarded) then
# DURATION. Per workload the table gives throughput,
# p50/p90/p99/p99.9/max, errors, the load generator's CPU (kv s), the servers' CPU (srv s, from
# /proc/<pid>/stat before/after, all members), both also per request, the largest RSS of each
# member sampled every second during the run, and the load average at its start.
# The whole script is bounded (timeouts on every step; about 5 minutes with the defaults).
# Its last line is the verdict (the line before it adds serializable gets and the txn):
#   vs etcd: put xR1, linearizable get xR2, single-client put p50 A ms vs B ms
# (R1, R2: AkkaKv's throughput at 1000 clients divided by etcd's; A AkkaKv's p50, B etcd's).
#
# Environment: DURATION (10s), WARMUP (2s), KEY_SPACE (100000), BASE_PORT (22379; etcd members
#              use BASE+0/1, BASE+10/11, BASE+20/21), AKKAKV_PORT (24054; nodes' Akka ports +0/+1/+2, pbm
#              off), AKKAKV_CLIENT_PORT (24379; the nodes' etcd-API client ports +0/+1/+2), VIA_AKKA (0), PREWARM (20s), SKIP_BUILD (1: use the existing Release builds), TARGETS ("etcd akkakv"; one of them alone skips the verdict),
#              OUT (a file that receives one JSON line per workload; optional),
#              AUTH (0; 1: both systems run with etcd's auth enabled, set up by etcdctl, and kv bench drives them as
#              the user "bench", whose role grants read-write on the bench's keys and read on its probe key).
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION="${DURATION:-10s}"
BASE_PORT="${BASE_PORT:-22379}"  # below Linux's ephemeral range (32768-60999)
KEY_SPACE="${KEY_SPACE:-100000}"
WARMUP="${WARMUP:-2s}"  # discarded load before each measurement (JIT tiering)
PREWARM="${PREWARM:-20s}"  # discarded load once per system before its first workload (JIT tiering)
RUN_TIMEOUT=120   # seconds per kv bench run: the run itself is DURATION plus one request timeout

log() { echo "[compare-etcd] $*" >&2; }

TARGETS="${TARGETS:-etcd akkakv}"
AKKAKV_PORT="${AKKAKV_PORT:-24054}"
AKKAKV_CLIENT_PORT="${AKKAKV_CLIENT_PORT:-24379}"
AKKAKV_UP_TIMEOUT=60
VIA_AKKA="${VIA_AKKA:-0}"
AUTH="${AUTH:-0}"
AUTH_ARGS=()

workdir="$(mktemp -d -t kv-compare-etcd-XXXXXX)"
source bench/lib/clusters.sh
bench_ensure_etcd
log "$(etcd --version | head -n 1)"
if [[ " $TARGETS " == *" akkakv "* ]]; then bench_build KvCluster.Client KvCluster.Node; else bench_build KvCluster.Client; fi
KV=(dotnet KvCluster.Client/bin/Release/net10.0/kv.dll)
cleanup() { bench_clusters_down; rm -rf "$workdir"; }
trap cleanup EXIT

# --- the clusters ----------------------------------------------------------------------------
pids=()  # the server processes being measured
start_etcd() {
  etcd_up "$BASE_PORT" kv-compare
  pids=("${ETCD_PIDS[@]}")
  all_endpoints="$ETCD_ENDPOINTS"
  leader="$(etcd_leader)"
  [ -n "$leader" ] || { log "no etcd leader found"; exit 3; }
  log "etcd leader: $leader"
  auth_setup
}
stop_etcd() { etcd_down; pids=(); AUTH_ARGS=(); }

auth_setup() { # AUTH=1: root, a "bench" user with read-write on the bench keys (decimal digits: ["0", ":")), auth on
  [ "$AUTH" = 1 ] || return 0
  local c
  for c in "user add root:rootpw" "role add root" "user grant-role root root" "user add bench:benchpw" "role add bench" \
      "role grant-permission bench readwrite 0 :" "role grant-permission bench read kv-bench-probe" \
      "user grant-role bench bench" "auth enable"; do
    # shellcheck disable=SC2086
    ETCDCTL_API=3 etcdctl --endpoints="$all_endpoints" $c >/dev/null || { log "auth set-up failed at: etcdctl $c"; exit 3; }
  done
  AUTH_ARGS=(--user bench:benchpw)
  log "auth enabled; kv bench runs as the user bench"
}

start_akkakv() {
  akkakv_up
  pids=("${AKKAKV_PIDS[@]}")
  # The Akka.NET ClusterClient endpoints (node ports) as local-cluster.sh prints them.
  akka_endpoints="$(sed -n 's/^client endpoints: //p' <<<"$AKKAKV_UP_OUT")"
  all_endpoints="$AKKAKV_ENDPOINTS"
  find_leader
  log "AkkaKv leader: $leader; Akka endpoints $akka_endpoints"
  auth_setup
}
stop_akkakv() { akkakv_down; pids=(); AUTH_ARGS=(); }

find_leader() { # sets $leader to the endpoint of $all_endpoints whose member is the Raft leader (kv endpoint status)
  local line ep id leader_id
  leader=""
  for _ in $(seq 1 20); do
    while IFS= read -r line; do
      ep="$(cut -d, -f1 <<<"$line" | tr -d ' ')"
      id="$(cut -d, -f2 <<<"$line" | tr -d ' ')"
      leader_id="$(cut -d, -f5 <<<"$line" | tr -d ' ')"
      [ "$leader_id" = true ] && leader="$ep"
    done < <(timeout 20 "${KV[@]}" endpoint status --endpoints "$all_endpoints" 2>/dev/null || true)
    [ -n "$leader" ] && return 0
    sleep 0.5
  done
  log "no leader found by kv endpoint status; the single-client put goes to the first endpoint"
  leader="${all_endpoints%%,*}"
}

# --- measurement helpers -----------------------------------------------------------------------
server_cpu() { bench_cpu_seconds "${pids[@]}"; } # CPU seconds of the server processes ($pids) so far

rss_sampler() { # writes "max-RSS-MiB ..." of each server process to $1 every second until killed
  local file="$1" pid i
  local -a max=()
  while :; do
    i=0
    for pid in "${pids[@]}"; do
      local kb
      kb="$(awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status" 2>/dev/null || echo 0)"
      [ "${kb:-0}" -gt "${max[$i]:-0}" ] && max[$i]="$kb"
      i=$((i + 1))
    done
    local line=""
    for kb in "${max[@]}"; do line+="${line:+/}$((kb / 1024))"; done
    echo "$line" >"$file.tmp" && mv "$file.tmp" "$file"
    sleep 1
  done
}

field() { # first value of "name": in a flat JSON text (the overall figures come first)
  grep -o "\"$1\":[-0-9.e]*" <<<"$2" | head -n 1 | cut -d: -f2
}

seconds_of() { # 10s -> 10, 500ms -> 0.5, 1m -> 60
  awk -v d="$1" 'BEGIN { if (d ~ /ms$/) print d / 1000; else if (d ~ /m$/) print d * 60; else print d + 0 }'
}

declare -A throughput_of p50_of
results=()
bench_target=etcd  # the kv bench --target of the system being measured: etcd for both, akkakv for akka-cc
txn_ops=0          # --txn-ops of the next run (0: plain puts)
run() { # system name endpoints clients conns read-ratio consistency [key-size value-size duration]
  local target="$1" name="$2" endpoints="$3" clients="$4" conns="$5" ratio="$6" consistency="$7"
  local key_size="${8:-8}" value_size="${9:-256}" duration="${10:-$DURATION}"
  local load before after json cpu_file rss_file sampler
  load="$(cut -d' ' -f1-3 /proc/loadavg)"
  before="$(server_cpu)"
  cpu_file="$workdir/cpu"
  rss_file="$workdir/rss"
  rm -f "$rss_file"
  rss_sampler "$rss_file" &
  sampler=$!
  local TIMEFORMAT='%U %S' status=0
  { time json="$(timeout "$RUN_TIMEOUT" "${KV[@]}" bench --target "$bench_target" --txn-ops "$txn_ops" \
      --endpoints "$endpoints" --clients "$clients" --conns "$conns" --duration "$duration" \
      --key-size "$key_size" --value-size "$value_size" --key-space "$KEY_SPACE" --read-ratio "$ratio" \
      --consistency "$consistency" --warmup "$WARMUP" --output json ${AUTH_ARGS[@]+"${AUTH_ARGS[@]}"} 2>>"$workdir/kv.err")" || status=$? ; } 2>"$cpu_file"
  kill "$sampler" 2>/dev/null || true
  wait "$sampler" 2>/dev/null || true
  [ "$status" -eq 0 ] || { log "$target $name: kv bench exited with $status: $(tail -n 1 "$workdir/kv.err")"; }
  after="$(server_cpu)"
  local client_cpu server_cpu_used rss
  client_cpu="$(awk '{printf "%.1f", $1 + $2}' "$cpu_file")"
  server_cpu_used="$(awk -v a="$after" -v b="$before" 'BEGIN { printf "%.1f", a - b }')"
  rss="$(cat "$rss_file" 2>/dev/null || echo "?")"
  echo "$target: $json"
  if [ -n "${OUT:-}" ]; then
    echo "{\"target\":\"$target\",\"workload\":\"$name\",\"loadavg\":\"$load\",\"clientCpuSeconds\":$client_cpu,\"serverCpuSeconds\":$server_cpu_used,\"serverRssMiB\":\"$rss\",\"result\":${json:-null}}" >>"$OUT"
  fi
  if [ -z "$json" ]; then
    results+=("$(printf '%-7s %-36s %s' "$target" "$name" "no result (exit $status)")")
    return
  fi
  local tput window srv_us kv_us
  tput="$(field throughput "$json")"
  throughput_of["$target:$name"]="$tput"
  p50_of["$target:$name"]="$(field p50 "$json")"
  kv_us="$(field clientCpuMicrosPerRequest "$json")"
  # The servers' CPU covers warm-up and run; divide by the requests of both at the measured rate.
  window="$(awk -v a="$(seconds_of "$WARMUP")" -v b="$(seconds_of "$duration")" 'BEGIN { print a + b }')"
  srv_us="$(awk -v c="$server_cpu_used" -v t="$tput" -v w="$window" 'BEGIN { if (t > 0) printf "%.0f", c * 1e6 / (t * w); else print "-" }')"
  results+=("$(printf '%-7s %-36s %9.0f %8.2f %8.2f %8.2f %8.2f %8.1f %6d %6s %6s %7s %7s %-13s %s' "$target" "$name" \
    "$tput" "$(field p50 "$json")" "$(field p90 "$json")" "$(field p99 "$json")" \
    "$(field p999 "$json")" "$(field max "$json")" "$(field errors "$json")" "$client_cpu" "$server_cpu_used" \
    "${kv_us%.*}" "$srv_us" "$rss" "$load")")
}

workloads() { # system (bench_target set by the caller)
  local target="$1"
  # Untimed load first, so the first workload does not measure a cold server: the .NET nodes'
  # tiered JIT still took 0.3-0.7 s of CPU per node per 6 s after a 5 s pre-warm (measured
  # 2026-12-01 from /proc/<pid>/task/*/stat). 100 clients, half puts, half linearizable gets.
  log "$target: pre-warm $PREWARM (discarded)"
  timeout "$RUN_TIMEOUT" "${KV[@]}" bench --target "$bench_target" --endpoints "$all_endpoints" --clients 100 --conns 10 \
    --duration "$PREWARM" --warmup 0s --key-space "$KEY_SPACE" --read-ratio 0.5 --output json ${AUTH_ARGS[@]+"${AUTH_ARGS[@]}"} >/dev/null 2>>"$workdir/kv.err" || true
  log "$target: each workload runs $WARMUP warm-up + $DURATION"
  run "$target" "put 256B, 1 client"                 "$leader"        1    1   0 l
  run "$target" "put 256B, 1000 clients / 100 conns" "$all_endpoints" 1000 100 0 l
  run "$target" "get linearizable, 1000c / 100 conns" "$all_endpoints" 1000 100 1 l
  run "$target" "get serializable, 1000c / 100 conns" "$all_endpoints" 1000 100 1 s
  if [ "$bench_target" = etcd ]; then
    txn_ops=10
    run "$target" "txn 10 puts, 1000c / 100 conns"     "$all_endpoints" 1000 100 0 l
    txn_ops=0
  fi
}

# --- etcd ----------------------------------------------------------------------------------
check_perf=""
if [[ " $TARGETS " == *" etcd "* ]]; then
  start_etcd
  workloads etcd

  # --- optional cross-check of the driver against etcd's own Go client -----------------------
  # VALIDATE=1: `etcdctl check perf --load=l` (clientv3, 500 clients each on its own connection,
  # 256 B keys under a 20 B prefix, 1 KiB values, random keys, 60 s, rate limit 8000/s) and then
  # `kv bench` with the same shape, one after the other on the same cluster.
  if [ "${VALIDATE:-0}" = 1 ]; then
    command -v etcdctl >/dev/null 2>&1 || apt-get install -y -qq etcd-client >/dev/null
    # kv first: etcdctl deletes its keys at the end in one large transaction, which would stall
    # the next run's connection probes.
    log "validation: kv bench with the check-perf shape (60 s)"
    run etcd "kv: check-perf shape 500c/500 conns" "$all_endpoints" 500 500 0 l 276 1024 60s
    log "validation: etcdctl check perf --load=l (60 s)"
    check_load="$(cut -d' ' -f1-3 /proc/loadavg)"
    ETCDCTL_API=3 timeout 300 etcdctl --endpoints="$all_endpoints" --command-timeout=30s check perf --load=l \
      >"$workdir/check-perf.txt" 2>&1 || true
    check_perf="$(tr '\r' '\n' <"$workdir/check-perf.txt" | grep -oE '(PASS|FAIL)[^%]*$' | tr '\n' ';')"
    [ -n "$check_perf" ] || check_perf="no result: $(tr '\r' '\n' <"$workdir/check-perf.txt" | tail -n 3 | tr '\n' ' ')"
  fi
  stop_etcd
fi

# --- AkkaKv ----------------------------------------------------------------------------------
if [[ " $TARGETS " == *" akkakv "* ]]; then
  start_akkakv
  bench_target=etcd
  workloads akkakv
  if [ "$VIA_AKKA" = 1 ]; then
    all_endpoints="$akka_endpoints"
    leader="$akka_endpoints"
    bench_target=akkakv
    workloads akka-cc
    bench_target=etcd
  fi
  stop_akkakv
fi

# --- report ----------------------------------------------------------------------------------
echo
echo "$(etcd --version | head -n 1) vs AkkaKv $(git rev-parse --short HEAD 2>/dev/null || echo '?'): 3 members each on loopback, fsync on; $(nproc) cores; kv bench $WARMUP warm-up + $DURATION per workload$([ "$AUTH" = 1 ] && echo "; etcd's auth enabled on both, driven as a user with two key ranges")"
printf '%-7s %-36s %9s %8s %8s %8s %8s %8s %6s %6s %6s %7s %7s %-13s %s\n' system workload 'req/s' 'p50 ms' 'p90 ms' 'p99 ms' 'p99.9' 'max ms' errors 'kv s' 'srv s' 'kv us' 'srv us' 'RSS MiB' 'load (1/5/15 min)'
printf '%s\n' "${results[@]}"
if [ -n "$check_perf" ]; then
  echo "etcdctl check perf --load=l (Go clientv3, same shape; load $check_load): $check_perf"
fi
echo "(kv s / srv s: CPU seconds of the load generator / of all three members over warm-up + run; kv us: client CPU"
echo " per measured request; srv us: server CPU per request; RSS: each member's largest RSS during the run)"

if [[ " $TARGETS " != *" etcd "* || " $TARGETS " != *" akkakv "* ]]; then
  echo "vs etcd: not compared (TARGETS=$TARGETS)"
  exit 0
fi
ratio() { # akkakv/etcd throughput of workload $1
  awk -v a="${throughput_of["akkakv:$1"]:-0}" -v e="${throughput_of["etcd:$1"]:-0}" \
    'BEGIN { if (e > 0) printf "%.2f", a / e; else print "?" }'
}
p50() { awk -v v="${p50_of["$1:put 256B, 1 client"]:-}" 'BEGIN { if (v == "") print "?"; else printf "%.2f", v }'; }
echo
echo "also: serializable get x$(ratio "get serializable, 1000c / 100 conns"), txn of 10 puts x$(ratio "txn 10 puts, 1000c / 100 conns")"
echo "vs etcd: put x$(ratio "put 256B, 1000 clients / 100 conns"), linearizable get x$(ratio "get linearizable, 1000c / 100 conns"), single-client put p50 $(p50 akkakv) ms vs $(p50 etcd) ms"
