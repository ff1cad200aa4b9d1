#!/usr/bin/env bash
# Reproduces docs/dashboard.png and docs/dashboard-dark.png: a release rnats
# with monitoring on 127.0.0.1 (OS-picked ports), a dozen nats-py clients
# publishing, subscribing and requesting, and headless Chromium on
# /dashboard after the page has polled the server for SECONDS_OF_DATA (default 90).
#
# Needs: cargo build --release, python3 with nats-py (pip install nats-py),
# chromium (apt-get install chromium). Optional: optipng, to shrink the PNGs.
set -euo pipefail
cd "$(dirname "$0")/.."

SECONDS_OF_DATA=${SECONDS_OF_DATA:-90}
BIN=${RNATS_BIN:-${CARGO_TARGET_DIR:-target}/release/rnats}
[ -x "$BIN" ] || { echo "no $BIN: run cargo build --release (or set RNATS_BIN)" >&2; exit 1; }

work=$(mktemp -d)
server_pid=""
clients_pid=""
cleanup() {
    [ -n "$clients_pid" ] && kill "$clients_pid" 2>/dev/null || true
    [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

"$BIN" -a 127.0.0.1 -p -1 -m -1 -n orders-eu-1 --ports_file_dir "$work" 2>"$work/server.log" &
server_pid=$!

# The ports file appears once the listeners are up (at most 10 s).
ports=""
for _ in $(seq 1 100); do
    ports=$(ls "$work"/*.ports 2>/dev/null | head -n1 || true)
    [ -n "$ports" ] && break
    sleep 0.1
done
[ -n "$ports" ] || { echo "rnats wrote no ports file:" >&2; cat "$work/server.log" >&2; exit 1; }
nats_url=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["nats"][0])' "$ports")
monitor_url=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["monitoring"][0])' "$ports")
echo "rnats: $nats_url, dashboard: $monitor_url/dashboard"

# Clients run a little longer than the browser watches.
python3 scripts/dashboard-clients.py "$nats_url" $((SECONDS_OF_DATA + 15)) &
clients_pid=$!

mkdir -p docs
python3 scripts/dashboard-shot.py "$monitor_url/dashboard" "$SECONDS_OF_DATA" docs/dashboard.png docs/dashboard-dark.png

if command -v optipng >/dev/null; then
    optipng -quiet -o5 docs/dashboard.png docs/dashboard-dark.png
fi
ls -l docs/dashboard.png docs/dashboard-dark.png
