#!/usr/bin/env bash
# Runs a Conclave scenario in N shards with GNU parallel, on this machine or over ssh, then
# merges them into one report.
#
#   recipes/gnu-parallel.sh SCENARIO CALIBRATION OUT N [SSHLOGINFILE]
#
#   SCENARIO      the scenario file
#   CALIBRATION   the calibration table every shard charges from (`conclave calibrate`)
#   OUT           the report's directory; the shards write OUT/shards/K/
#   N             how many shards
#   SSHLOGINFILE  optional: GNU parallel's --sshloginfile (one `[jobs/]host` per line; `:`
#                 is this machine). Every host needs `conclave` on its PATH and sees this
#                 directory at the same path (a shared file system).
#
# Each shard runs its jobs on CONCLAVE_JOBS threads (default 1: one shard per core).
# A shard that fails stops nothing else; the merge then names the missing shards, and
# rerunning this script runs only the shards without a partial report.
set -euo pipefail

if [[ $# -lt 4 || $# -gt 5 ]]; then
    sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
fi
scenario=$1 calibration=$2 out=$3 n=$4 hosts=${5:-}
conclave=${CONCLAVE:-conclave}
jobs=${CONCLAVE_JOBS:-1}

remote=()
if [[ -n $hosts ]]; then
    remote=(--sshloginfile "$hosts" --workdir "$PWD")
fi
mkdir -p "$out/shards"
# Shards already done are skipped, so a rerun only runs what failed.
seq 1 "$n" | while read -r k; do
    [[ -f $out/shards/$k/partial.json ]] || echo "$k"
done | parallel --line-buffer --tag "${remote[@]}" \
    "$conclave" run "$scenario" --calibration "$calibration" --jobs "$jobs" \
    --shard "{}/$n" --out "$out/shards/{}" || true
"$conclave" merge "$out"/shards/* --out "$out"
