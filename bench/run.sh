#!/usr/bin/env bash
# Benchmark of the nightly job (release build) on one generated day:
#   bench/run.sh            # 30 M TTA cells, 1 M events, 1 M ledger entries
#   bench/run.sh --quick    # a tenth of that
#   bench/run.sh --runs 5   # scan and job alternately 5 times; medians (the machine is noisy)
# Prints the job's wall time, TTA cells per second, peak RSS, and the ratio of the job's wall
# time to a bare Polars scan of the same input files (every column read once).
# Environment: BENCH_DIR (default /tmp/credit-recon-bench; the data is kept and reused),
# CARGO_TARGET_DIR (default ~/.cache/credit-recon-release, a release target apart from the
# debug one).
set -euo pipefail
cd "$(dirname "$0")/.."

size=full
runs=1
usage() { echo "usage: bench/run.sh [--quick|--full] [--runs N]" >&2; exit 2; }
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) size=quick ;;
    --full) size=full ;;
    --runs) [ $# -ge 2 ] && [ "$2" -ge 1 ] 2>/dev/null || usage; runs=$2; shift ;;
    *) usage ;;
  esac
  shift
done
if [ "$size" = full ]; then
  gen_args=(--accounts 2000 --projects 20000 --events 1000000 --uploads 20000 --rows 500 --tta-columns 3 --ledger-entries 1000000)
else
  gen_args=(--accounts 400 --projects 4000 --events 100000 --uploads 2000 --rows 500 --tta-columns 3 --ledger-entries 100000)
fi
gen_args+=(--days 1 --seed 42 --start 2026-11-02 --fault-rate 0.02)
date=2026-11-02

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/credit-recon-release}"
echo "== building (release, $CARGO_TARGET_DIR)"
nice -n 19 cargo build --release --quiet --bin credit-recon
bin="$CARGO_TARGET_DIR/release/credit-recon"

dir="${BENCH_DIR:-/tmp/credit-recon-bench}/$size"
stamp="$dir/.generated-with"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "${gen_args[*]}" ]; then
  echo "== generating ($size): ${gen_args[*]}"
  rm -rf "$dir"
  mkdir -p "$(dirname "$dir")"
  start=$(date +%s.%N)
  CREDIT_RECON_LOG=warn "$bin" generate --out "$dir" "${gen_args[@]}"
  echo "generated in $(awk -v a="$(date +%s.%N)" -v b="$start" 'BEGIN { printf "%.1f", a - b }') s"
  echo "${gen_args[*]}" > "$stamp"
fi
summary="$dir/truth/summary.json"
num() { grep -m1 "\"$1\"" "$summary" | tr -dc '0-9'; }
tta=$(num tta_cells); rows=$(num cell_rows); events=$(num events); entries=$(num ledger_entries)
echo "   input: $tta TTA cells ($rows cell rows), $events events, $entries ledger entries, $(du -sh --exclude=truth "$dir" | cut -f1) on disk"

# Same footing for both: the files are in the page cache.
cat $(find "$dir" -name '*.parquet' -o -name '*.csv' | grep -v /truth/) > /dev/null

timed() { # label, command...: wall seconds and peak RSS (KiB) into $wall and $rss
  local label=$1; shift
  local log; log=$(mktemp)
  local t0; t0=$(date +%s.%N)
  set +e
  /usr/bin/time -v "$@" 2> "$log" > "$log.out"
  local code=$?
  set -e
  wall=$(awk -v a="$(date +%s.%N)" -v b="$t0" 'BEGIN { print a - b }')
  rss=$(grep "Maximum resident set size" "$log" | tr -dc '0-9')
  if [ "$code" -ne 0 ] && [ "$code" -ne 3 ]; then
    echo "$label failed with exit code $code:"; tail -20 "$log"; exit 1
  fi
  cat "$log.out"
  if [ -n "${keep_log:-}" ]; then cp "$log" "$keep_log"; fi
  rm -f "$log" "$log.out"
}

median() { printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
scan_walls=(); job_walls=(); outs=(); scan_rss=0; job_rss=0
for run in $(seq 1 "$runs"); do
  echo "== bare Polars scan of the same files (run $run of $runs)"
  timed scan "$bin" bench-scan --data "$dir"
  scan_walls+=("$wall"); [ "$rss" -gt "$scan_rss" ] && scan_rss=$rss

  echo "== the nightly job (run $run of $runs)"
  out=$(mktemp -d)
  keep_log="$dir.job.log"
  timed job env CREDIT_RECON_LOG="${CREDIT_RECON_LOG:-credit_recon=debug}" CREDIT_RECON_LOG_FORMAT=json \
    "$bin" run --data "$dir" --out "$out" --date "$date"
  keep_log=
  job_walls+=("$wall"); [ "$rss" -gt "$job_rss" ] && job_rss=$rss
  printf '   run %d: job %.2f s, scan %.2f s, ratio %.2f\n' "$run" "$wall" "${scan_walls[-1]}" \
    "$(awk -v a="$wall" -v b="${scan_walls[-1]}" 'BEGIN { print a / b }')"
  # Removed at the end: ext4 avoids reusing the inodes of files deleted in the last half minute,
  # so deleting a run's 1 500 mail files just before the next run slowed the next run's mail.
  outs+=("$out")
done
rm -rf "${outs[@]}"
job_wall=$(median "${job_walls[@]}"); scan_wall=$(median "${scan_walls[@]}")
# Where the time goes: seconds since the start at the end of each stage (the run's own log lines).
echo "   stages (seconds since start, from $dir.job.log):"
grep '^{' "$dir.job.log" | awk -F'"timestamp":"' '
  { split($2, a, "\""); t = a[1]; sub(/.*T/, "", t); split(t, h, ":"); s = h[1] * 3600 + h[2] * 60 + h[3]
    if (NR == 1) s0 = s
    m = $0; sub(/.*"message":"/, "", m); sub(/".*/, "", m)
    x = $0; if (match(x, /"(table|stage)":"[^"]*"/)) m = m " " substr(x, RSTART, RLENGTH)
    if (m !~ /wrote report/ && $0 !~ /"answer":/) printf "   %7.2f  %s\n", s - s0, m }'

awk -v tta="$tta" -v jw="$job_wall" -v jr="$job_rss" -v sw="$scan_wall" -v sr="$scan_rss" -v size="$size" -v runs="$runs" 'BEGIN {
  label = (runs + 0 > 1) ? ("medians of " runs " runs, peak RSS the highest") : "one run"
  printf "\n== result (%s; %s)\n", size, label
  printf "job wall time      %8.2f s\n", jw
  printf "TTA cells / second %8.2f M\n", tta / jw / 1e6
  printf "job peak RSS       %8.2f GiB\n", jr / 1048576
  printf "bare scan          %8.2f s (peak RSS %.2f GiB)\n", sw, sr / 1048576
  printf "ratio job / scan   %8.2f   (target <= 2.5; peak RSS target < 4 GiB)\n", jw / sw
}'
