#!/usr/bin/env bash
# Akka.Remote (DotNetty TCP, 127.0.0.1) ping-pong, Ask and one-way streaming between TWO processes, with a raw-socket
# ping-pong baseline measured in the same run. Prints the client's report.
#   bench/remote-pingpong.sh [--pings N] [--messages N] [--window N] [--ack-every N] [--ask-callers N] [--asks N] [--serializer bench|json]
set -euo pipefail
cd "$(dirname "$0")/.."

dotnet build bench/KvCluster.Benchmarks -c Release -v q -nologo >/dev/null
dll=bench/KvCluster.Benchmarks/bin/Release/net10.0/KvCluster.Benchmarks.dll

echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)  cpus: $(nproc)  $(lscpu | sed -n 's/^Model name: *//p')"

fifo="$(mktemp -u)"
mkfifo "$fifo"
out="$(mktemp)"
# The server serves until its stdin (the fifo) closes.
dotnet "$dll" remote-pingpong --role server <"$fifo" >"$out" 2>&1 &
server_pid=$!
exec 3>"$fifo"
cleanup() {
  exec 3>&- || true
  wait "$server_pid" 2>/dev/null || true
  rm -f "$fifo" "$out"
}
trap cleanup EXIT

for _ in $(seq 1 200); do
  if grep -q '^READY ' "$out"; then break; fi
  if ! kill -0 "$server_pid" 2>/dev/null; then cat "$out"; exit 1; fi
  sleep 0.1
done
read -r _ address raw_port < <(grep '^READY ' "$out")
echo "server: $address (pid $server_pid), raw echo port $raw_port"

dotnet "$dll" remote-pingpong --role client --server "$address" --raw-port "$raw_port" "$@"

exec 3>&-
wait "$server_pid" || true
grep -v '^READY ' "$out" || true
