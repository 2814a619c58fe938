#!/usr/bin/env bash
# Submits a Conclave run as a SLURM job array of N shards and queues the merge after it.
#
#   recipes/slurm/submit.sh SCENARIO CALIBRATION OUT N [extra sbatch options...]
#
# The shards write OUT/shards/K/partial.json; the merge writes the report into OUT. Both need
# `conclave` on the PATH of the compute nodes (or CONCLAVE=/path/to/conclave) and OUT on a
# shared file system.
set -euo pipefail
if [[ $# -lt 4 ]]; then
    sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
fi
scenario=$1 calibration=$2 out=$3 n=$4
shift 4
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$out/shards"
array=$(sbatch --parsable --array="1-$n" "$@" \
    --export="ALL,SCENARIO=$scenario,CALIBRATION=$calibration,OUT=$out" \
    "$here/conclave-shards.sbatch")
# afterok: a shard that failed (not one whose run found oracle violations: that is reported
# by the merge) leaves the merge unrun; rerun that task with `sbatch --array=K ...`.
sbatch --parsable --dependency="afterok:$array" --job-name=conclave-merge \
    --output="conclave-merge-%j.log" \
    --wrap="${CONCLAVE:-conclave} merge $out/shards/* --out $out"
echo "submitted shards as job $array and the merge after them"
