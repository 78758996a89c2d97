#!/usr/bin/env bash
# The chaos run (issue 8): three real node processes on loopback (fsync on), concurrent clients recording
# every put/get/cas/delete, a nemesis (SIGKILL + restart, SIGSTOP + SIGCONT, partitions through each node's
# `fault` pbm palette) for a bounded time, then the linearizability check of the whole history.
#
#   scripts/chaos.sh --duration SECONDS [more runner flags: --clients 8 --keys 30 --tick-ms 50 --seed 1 ...]
#
# Builds KvCluster.Node and bench/KvCluster.Chaos once (Release; SKIP_BUILD=1 uses the existing build), runs
# with its data, node logs and pid files in a temporary directory (CHAOS_DIR to choose one), and prints a summary
# whose last line is `violations: N`. Exit code: 0 linearizable, 1 violation(s), 3 checker budget exceeded or no
# recovery, 2 set-up failure. On a violation the history is saved (chaos-history.json, or HISTORY_OUT) and the
# directory is kept; otherwise it is removed. Every node process is killed on exit, even if the runner dies.
set -uo pipefail
cd "$(dirname "$0")/.."
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

RUNNER=bench/KvCluster.Chaos/bin/Release/net10.0/KvCluster.Chaos.dll
NODE_DLL=KvCluster.Node/bin/Release/net10.0/KvCluster.Node.dll
work="${CHAOS_DIR:-$(mktemp -d -t akkakv-chaos.XXXXXX)}"
mkdir -p "$work"
history_out="${HISTORY_OUT:-$PWD/chaos-history.json}"
runner_pid=""

cleanup() {
  local pidfile pid
  if [ -n "$runner_pid" ] && kill -0 "$runner_pid" 2>/dev/null; then
    kill -TERM "$runner_pid" 2>/dev/null
    sleep 1
    kill -KILL "$runner_pid" 2>/dev/null
  fi
  for pidfile in "$work"/n*.pid; do
    [ -f "$pidfile" ] || continue
    pid="$(cat "$pidfile")"
    [ -n "$pid" ] && kill -CONT "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
    rm -f "$pidfile"
  done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ "${SKIP_BUILD:-0}" != 1 ] || [ ! -f "$RUNNER" ] || [ ! -f "$NODE_DLL" ]; then
  echo "[chaos] building KvCluster.Node and bench/KvCluster.Chaos (Release)" >&2
  if ! { timeout 900 dotnet build KvCluster.Node -c Release -v quiet -nologo \
      && timeout 900 dotnet build bench/KvCluster.Chaos -c Release -v quiet -nologo; } >"$work/build.log" 2>&1; then
    echo "[chaos] build failed; last lines of $work/build.log:" >&2
    tail -n 20 "$work/build.log" >&2
    echo "violations: unknown (build failed)"
    exit 2
  fi
fi

dotnet "$RUNNER" --node-dll "$NODE_DLL" --work-dir "$work" --history-out "$history_out" "$@" &
runner_pid=$!
wait "$runner_pid"
status=$?
runner_pid=""
if [ "$status" -eq 0 ]; then
  rm -rf "$work"
else
  echo "[chaos] exit $status; node logs kept in $work" >&2
fi
exit "$status"
