#!/usr/bin/env bash
# Renders the dashboard picture of docs/reports.md (tests/data/dashboard/dashboard.png) from the sample
# data: runs the three sample jobs, previews a dashboard for today and takes a
# screenshot of its preview.html with Debian's headless Chromium.
#   bash tests/data/dashboard/render-dashboard.sh            (needs: cargo, chromium)
#   S321D_BIN=target/debug/s321d bash tests/data/dashboard/render-dashboard.sh
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/jobs"
cp jobs/*.toml "$work/jobs/"
cat > "$work/jobs/daily-dashboard.toml" <<'TOML'
name = "daily-dashboard"
timezone = "UTC"
[report]
kind = "dashboard"
recipients = ["compliance"]
day = "today"
TOML
cat > "$work/s321d.toml" <<TOML
[paths]
data_dir = "$work/var"
jobs_dir = "$work/jobs"
[log]
level = "warn"
[daemon]
timezone = "UTC"
[email.groups]
compliance = ["compliance@broker.example"]
TOML
# S321D_BIN=path/to/s321d uses a binary already built.
if [ -n "${S321D_BIN:-}" ]; then
  s321d() { "$S321D_BIN" --config "$work/s321d.toml" "$@"; }
else
  s321d() { cargo run --quiet --release -- --config "$work/s321d.toml" "$@"; }
fi
s321d run-job dhlx-canonical pclx-intake upsn-ndjson --seed data-samples || true
s321d report --job daily-dashboard --date "$(date -u +%F)" --preview "$work/preview"
chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
  --disable-background-networking --disable-component-update --disable-sync --hide-scrollbars \
  --user-data-dir="$work/chromium" --screenshot="$PWD/tests/data/dashboard/dashboard.png" --window-size=1000,2400 \
  "file://$work/preview/preview.html"
echo "wrote tests/data/dashboard/dashboard.png"
