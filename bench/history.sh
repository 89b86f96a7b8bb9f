#!/usr/bin/env bash
# Shows that a night's cost does not grow with the length of history (issue 6): generates 60 days,
# runs every night with the state, then times the night of day 2 and the night of day 60, and the
# night of day 60 priced from the whole history (--rebuild-state) for contrast.
#   bench/history.sh            # 60 days of 20 000 events, 400 uploads of 100 rows, 20 000 entries
# Environment: BENCH_DIR (default /tmp/credit-recon-history), CARGO_TARGET_DIR (default
# ~/.cache/credit-recon-release: a release build apart from the debug one).
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/credit-recon-release}"
echo "== building (release, $CARGO_TARGET_DIR)"
nice -n 19 cargo build --release --quiet --bin credit-recon
bin="$CARGO_TARGET_DIR/release/credit-recon"

days=60
start=2026-09-01
gen_args=(--days "$days" --seed 7 --start "$start" --accounts 200 --projects 2000 --events 20000
  --uploads 400 --rows 100 --tta-columns 3 --ledger-entries 20000 --fault-rate 0.02)
dir="${BENCH_DIR:-/tmp/credit-recon-history}"
if [ ! -f "$dir/data/.generated-with" ] || [ "$(cat "$dir/data/.generated-with")" != "${gen_args[*]}" ]; then
  echo "== generating $days days: ${gen_args[*]}"
  rm -rf "$dir/data"
  mkdir -p "$dir"
  CREDIT_RECON_LOG=warn "$bin" generate --out "$dir/data" "${gen_args[@]}"
  echo "${gen_args[*]}" > "$dir/data/.generated-with"
fi
day() { date -u -d "$start + $(( $1 - 1 )) days" +%F; }

seconds() { # command...: prints the wall seconds of the command
  local t0; t0=$(date +%s.%N)
  "$@" > /dev/null 2>&1 || { echo "failed: $*" >&2; exit 1; }
  awk -v a="$(date +%s.%N)" -v b="$t0" 'BEGIN { printf "%.2f", a - b }'
}
run_on() { # data root, args...
  local data=$1; shift
  local code=0
  CREDIT_RECON_LOG=warn "$bin" run --data "$data" --no-mail "$@" || code=$?
  [ "$code" -eq 0 ] || [ "$code" -eq 3 ]
}
run() { # exit code 3 (high-severity findings, injected on purpose) is a success here
  local code=0
  CREDIT_RECON_LOG=warn "$bin" run --data "$dir/data" --no-mail "$@" || code=$?
  [ "$code" -eq 0 ] || [ "$code" -eq 3 ]
}

# The night of day 2 sees the data root as it was then: partitions up to day 3 only (a night
# reads the ledger posted since the refund window before it, which in the full root holds the
# 58 days after it).
rm -rf "$dir/early"; mkdir -p "$dir/early/usage" "$dir/early/ledger"
ln -s "$dir/data/reference" "$dir/early/reference"
for n in 1 2 3; do
  for area in usage ledger; do
    [ -e "$dir/data/$area/date=$(day $n)" ] && ln -s "$dir/data/$area/date=$(day $n)" "$dir/early/$area/date=$(day $n)"
  done
done

rm -rf "$dir/out"
echo "== nights 1 to $(( days - 1 )) (backfill, each night with the state the night before left)"
run --out "$dir/out" --from "$(day 1)" --to "$(day $(( days - 1 )))"
echo "== timing (median of 3)"
median() { printf '%s\n' "$@" | sort -n | sed -n 2p; }
t60=(); t2=(); th=()
for i in 1 2 3; do
  t60+=("$(seconds run --out "$dir/out" --date "$(day "$days")")")
  th+=("$(seconds run --out "$dir/out" --date "$(day "$days")" --rebuild-state)")
  rm -rf "$dir/out2"; run_on "$dir/early" --out "$dir/out2" --date "$(day 1)" > /dev/null 2>&1
  t2+=("$(seconds run_on "$dir/early" --out "$dir/out2" --date "$(day 2)")")
done
printf '\nnight of day 2 (state of day 1):      %s s\n' "$(median "${t2[@]}")"
printf 'night of day %s (state of day %s):    %s s\n' "$days" "$(( days - 1 ))" "$(median "${t60[@]}")"
printf 'night of day %s from the whole history: %s s\n' "$days" "$(median "${th[@]}")"
