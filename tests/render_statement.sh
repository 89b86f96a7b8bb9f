#!/usr/bin/env bash
# Renders a monthly statement (HTML) to a PNG with headless Chromium (Debian's `chromium`
# package: `apt-get install -y chromium`), to look at it as a person would. With a third
# argument it also prints the page to PDF (A4, the statement's print style).
#
#   tests/render_statement.sh out/month=2026-11/statements/acc-a.html /tmp/acc-a.png [/tmp/acc-a.pdf]
set -euo pipefail

if [ $# -lt 2 ]; then
  echo "usage: $0 STATEMENT.html OUT.png [OUT.pdf]" >&2
  exit 2
fi
if ! command -v chromium >/dev/null; then
  echo "chromium is not installed (apt-get install -y chromium)" >&2
  exit 3
fi
html=$(realpath "$1")
png=$(realpath -m "$2")
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT

flags=(--headless --no-sandbox --disable-gpu --disable-background-networking
  --disable-component-update --disable-sync --no-first-run --hide-scrollbars
  --user-data-dir="$profile")
timeout 120 chromium "${flags[@]}" --screenshot="$png" --window-size=1000,1400 "file://$html" 2>/dev/null
if [ $# -ge 3 ]; then
  pdf=$(realpath -m "$3")
  timeout 120 chromium "${flags[@]}" --no-pdf-header-footer --print-to-pdf="$pdf" "file://$html" 2>/dev/null
fi
test -s "$png"
echo "$png"
