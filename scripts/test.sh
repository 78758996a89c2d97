#!/usr/bin/env bash
# Runs every test of AkkaKv (unit, TestKit, integration) and prints, as its last line,
#   tests: N passed, N failed
# Extra arguments go to `dotnet test` (for example: --filter "FullyQualifiedName~Raft").
set -uo pipefail
cd "$(dirname "$0")/.."

# Test prerequisites from Debian: etcd (the etcd target of `kv bench` and the etcd-API commands of `kv` are tested
# against a real one) and etcdctl 3.4 (etcd-client: a client none of us wrote, for the interop tests against AkkaKv).
missing=()
command -v etcd >/dev/null 2>&1 || missing+=(etcd-server)
command -v etcdctl >/dev/null 2>&1 || missing+=(etcd-client)
if [ "${#missing[@]}" -gt 0 ]; then
  echo "installing ${missing[*]} (needed by the etcd integration tests)..."
  export DEBIAN_FRONTEND=noninteractive
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq && $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
    || echo "warning: could not install ${missing[*]}; the etcd integration tests will fail and say so" >&2
fi

results="$(mktemp -d)"
trap 'rm -rf "$results"' EXIT

dotnet test AkkaKv.sln -c Release \
  --logger "trx;LogFilePrefix=results" \
  --logger "console;verbosity=minimal" \
  --results-directory "$results" \
  --blame-hang-timeout 5m \
  "$@"
status=$?

passed=0
failed=0
shopt -s nullglob
trx_files=("$results"/*.trx)
for trx in "${trx_files[@]}"; do
  counters="$(grep -o '<Counters [^>]*>' "$trx" | head -n 1)"
  p="$(sed -n 's/.* passed="\([0-9]*\)".*/\1/p' <<<"$counters")"
  f="$(sed -n 's/.* failed="\([0-9]*\)".*/\1/p' <<<"$counters")"
  passed=$((passed + ${p:-0}))
  failed=$((failed + ${f:-0}))
done

# A build failure or a crashed test host produces no counters: count it as a failure.
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then
  failed=1
fi
echo "tests: ${passed} passed, ${failed} failed"
[ "$status" -eq 0 ] && [ "$failed" -eq 0 ]
