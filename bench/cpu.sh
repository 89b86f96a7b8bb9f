#!/usr/bin/env bash
# Samples a command's CPU use (percent of one core: 200 = both cores of this machine) and resident
# memory every half second, to see which stages leave a core idle:
#   bench/cpu.sh OUT.tsv credit-recon run --data DIR --out OUT --date D
# OUT.tsv gets one line per sample: seconds since the start, CPU %, RSS MiB. The command's own
# output goes on as usual; its exit code is this script's.
set -uo pipefail
if [ $# -lt 2 ]; then echo "usage: bench/cpu.sh OUT.tsv COMMAND [ARGS...]" >&2; exit 2; fi
out=$1; shift
ticks=$(getconf CLK_TCK)
"$@" &
pid=$!
t0=$(date +%s.%N)
prev=0
printf 'seconds\tcpu_percent\trss_mib\n' > "$out"
while sleep 0.5; do
  stat=$(cat "/proc/$pid/stat" 2>/dev/null) || break
  rss=$(awk '/VmRSS/ { print int($2 / 1024) }' "/proc/$pid/status" 2>/dev/null)
  [ -n "$rss" ] || break
  used=$(echo "$stat" | awk '{ print $14 + $15 }')
  printf '%s\t%d\t%s\n' "$(awk -v a="$(date +%s.%N)" -v b="$t0" 'BEGIN { printf "%.1f", a - b }')" \
    $(( (used - prev) * 200 / ticks )) "$rss" >> "$out"
  prev=$used
done
wait "$pid"
