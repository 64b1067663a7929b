#!/usr/bin/env bash
# Runs a umt batch as a Slurm job array of N tasks plus a merge job that joins their reports.
#   scripts/slurm/submit.sh [--wait] [--reports DIR] N TASK ARGS...
#   scripts/slurm/submit.sh --reports runs/omr 16 omr pages/ -o scores/ --format musicxml
# Prints the two job ids. DIR (default umt-reports) gets report-I.jsonl per task, the tasks'
# logs, and report.jsonl, the merged report. --wait returns when the merge is done, with its
# exit status (1 when an input failed or a task died before finishing its shard).
# Extra sbatch options (partition, time, CPUs) go in SBATCH_* variables, e.g.
# SBATCH_PARTITION=cpu SBATCH_TIMELIMIT=2:00:00.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
wait_flag=()
reports=umt-reports
while [ $# -gt 0 ]; do
  case "$1" in
    --wait) wait_flag=(--wait); shift ;;
    --reports) reports=$2; shift 2 ;;
    *) break ;;
  esac
done
n=${1:?usage: submit.sh [--wait] [--reports DIR] N TASK ARGS...}
shift
[ "$n" -ge 1 ] 2>/dev/null || { echo "submit.sh: N must be a positive number, got '$n'" >&2; exit 2; }
[ $# -ge 1 ] || { echo "usage: submit.sh [--wait] [--reports DIR] N TASK ARGS..." >&2; exit 2; }
mkdir -p "$reports"
reports=$(cd "$reports" && pwd)
rm -f "$reports"/report-*.jsonl "$reports/report.jsonl"
array=$(sbatch --parsable --array=0-$((n - 1)) --output="$reports/task-%a.log" \
  "$here/umt-array.sbatch" "$reports" "$@")
array=${array%%;*}
rm -f "$reports/merge.rc"
merge=$(sbatch --parsable --dependency=afterany:"$array" --job-name=umt-merge --output="$reports/merge.log" \
  --wrap "python3 '$here/merge_reports.py' --expect $n '$reports'/report-*.jsonl -o '$reports/report.jsonl'; echo \$? > '$reports/merge.rc'")
merge=${merge%%;*}
echo "array $array, merge $merge"
if [ ${#wait_flag[@]} -gt 0 ]; then
  # Polled here rather than with sbatch --wait, whose poll interval grows to many seconds.
  while squeue -h -j "$merge" 2>/dev/null | grep -q .; do sleep 0.5; done
  cat "$reports/merge.log" >&2 || true
  [ -f "$reports/merge.rc" ] || { echo "submit.sh: the merge job $merge ended without a result" >&2; exit 1; }
  exit "$(cat "$reports/merge.rc")"
fi
