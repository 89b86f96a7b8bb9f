#!/usr/bin/env bash
# Compares builds of credit-recon on the benchmark day, run alternately (A, B, A, B ...) so that
# both meet the same machine: its speed moves by 20 % within an hour here.
#   cp ~/.cache/credit-recon-release/release/credit-recon /tmp/cr-before   # (then change, rebuild)
#   bench/ab.sh 3 /tmp/cr-before ~/.cache/credit-recon-release/release/credit-recon
# One line per run: wall s, user CPU s, system CPU s, peak RSS KiB, then the seconds since the start
# at which the run's stages ended (from its own log). Needs the day bench/run.sh generates
# ($BENCH_DIR/full, default /tmp/credit-recon-bench/full) and python3.
set -euo pipefail
if [ $# -lt 2 ]; then echo "usage: bench/ab.sh RUNS BINARY [BINARY...]" >&2; exit 2; fi
runs=$1; shift
dir="${BENCH_DIR:-/tmp/credit-recon-bench}/full"
[ -d "$dir" ] || { echo "no benchmark day in $dir: run bench/run.sh first" >&2; exit 2; }
stages='
import sys, json, datetime
names = {"counted the billable cells (R1)": "R1", "priced the history": "price",
         "charges matched to events": "match", "reconciliation rows": "rows", "findings": "find",
         "refund candidates": "refunds", "reconciled": "recon", "run finished": "reports",
         "mail done": "mail"}
t0, out = None, []
for line in sys.stdin:
    if not line.startswith("{"):
        continue
    j = json.loads(line)
    f = j.get("fields", {})
    t = datetime.datetime.fromisoformat(j["timestamp"].replace("Z", "+00:00")).timestamp()
    t0 = t0 or t
    name = names.get(f.get("message"))
    if f.get("message") == "collected":
        name = f.get("stage", "?").replace("R1 ", "").replace(" ", "_")
    if name:
        out.append("%s=%.2f" % (name, t - t0))
print(" ".join(out))
'
outs=()
for _ in $(seq 1 "$runs"); do
  for bin in "$@"; do
    out=$(mktemp -d)
    outs+=("$out")
    code=0
    CREDIT_RECON_LOG=credit_recon=debug CREDIT_RECON_LOG_FORMAT=json \
      /usr/bin/time -f "TIME %e %U %S %M" "$bin" run --data "$dir" --out "$out" --date 2026-11-02 \
      > /dev/null 2> "$out.log" || code=$?
    if [ "$code" -ne 0 ] && [ "$code" -ne 3 ]; then echo "$bin failed ($code):"; tail -5 "$out.log"; exit 1; fi
    printf '%s %s | %s\n' "$(basename "$bin")" "$(grep '^TIME' "$out.log" | cut -c6-)" \
      "$(python3 -c "$stages" < "$out.log")"
    rm -f "$out.log"
  done
done
# Removed at the end: deleting 1 500 mail files right before a run slows that run's mail (ext4).
rm -rf "${outs[@]}"
