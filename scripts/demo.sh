#!/usr/bin/env bash
# The offline CRM's main job, end to end on this machine: IT starts a sync server with users, a
# book, grants and tokens; two reps set up their laptops, share a contact through the server, both
# edit it offline (the same field and different ones), sync, see the conflict and settle it; then
# a rep's replacement laptop restores everything from the server. A short tour follows.
#
# Usage: scripts/demo.sh [DIR]   (DIR: where the data dirs go; default: a new temporary dir)
# It builds the release binaries first, unless CRM_BIN and CRM_SYNC_SERVER_BIN name binaries to use.
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ -z ${CRM_BIN:-} || -z ${CRM_SYNC_SERVER_BIN:-} ]]; then
    echo "Building crm and crm-sync-server (release)..."
    cargo build --release -q -p crm-client -p crm-sync-server
fi
CRM_BIN=${CRM_BIN:-./target/release/crm}
CRM_SYNC_SERVER_BIN=${CRM_SYNC_SERVER_BIN:-./target/release/crm-sync-server}
dir=${1:-$(mktemp -d -t crm-demo.XXXXXX)}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
unset CRM_HOME

step() { printf '\n== %s\n' "$*"; }
# `crm` as a person at their laptop: `as ana contact list` runs in Ana's data dir.
as() {
    local who=$1
    shift
    "$CRM_BIN" --data-dir "$dir/$who" "$@"
}
admin() { "$CRM_SYNC_SERVER_BIN" "$@" --data-dir "$dir/server"; }

step "IT starts a sync server (data in $dir/server)"
server_pid=
stop_server() {
    if [[ -n $server_pid ]]; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
        server_pid=
    fi
}
trap stop_server EXIT
trap 'exit 130' INT TERM
"$CRM_SYNC_SERVER_BIN" serve --listen 127.0.0.1:0 --data-dir "$dir/server" \
    >"$dir/server.out" 2>"$dir/server.log" &
server_pid=$!
for _ in $(seq 100); do
    grep -q '^listening on ' "$dir/server.out" 2>/dev/null && break
    if ! kill -0 "$server_pid" 2>/dev/null; then
        echo "demo: the sync server did not start:" >&2
        cat "$dir/server.log" >&2
        exit 1
    fi
    sleep 0.1
done
addr=$(sed -n 's/^listening on //p' "$dir/server.out")
if [[ -z $addr ]]; then
    echo "demo: the sync server did not say where it listens (log: $dir/server.log)" >&2
    exit 1
fi
url="ws://$addr"
echo "Listening on $url"

step "IT adds a manager and two reps, the book north, grants and tokens"
admin user add maria --role manager >/dev/null
admin user add ana >/dev/null
admin user add bruno >/dev/null
admin book add north >/dev/null
admin grant ana north >/dev/null
admin grant bruno north >/dev/null
# Each token is printed once; IT hands it to its user.
maria_token=$(admin token issue maria 2>/dev/null)
ana_token=$(admin token issue ana 2>/dev/null)
bruno_token=$(admin token issue bruno 2>/dev/null)
echo "users: maria (manager), ana and bruno (reps of north); one token each"

step "Ana and Bruno set up their laptops with the server, the book and their tokens"
as ana init --user ana --name "Ana Silva" --book north --server "$url" --token "$ana_token"
as bruno init --user bruno --name "Bruno Costa" --book north --server "$url" --token "$bruno_token"

step "Ana adds an organization and a contact, and syncs"
org=$(as ana org add --name "Acme Logistics" --industry logistics --region north --kind customer)
ines=$(as ana contact add --name "Ines Duarte" --title "Head of Finance" --org "$org" \
    --email ines@acme.example --phone "+351 912 345 678")
as ana sync

step "Bruno syncs and receives them"
as bruno sync
as bruno contact list

step "Both edit Ines offline: the same field (title) and different ones (notes, region)"
as ana contact edit "$ines" --title "Chief Financial Officer" --notes "Prefers morning calls." >/dev/null
echo "Ana:   title \"Chief Financial Officer\", notes \"Prefers morning calls.\""
as bruno contact edit "$ines" --title "CFO" --region south >/dev/null
echo "Bruno: title \"CFO\", region south"

step "Both sync through the server"
as ana sync
as bruno sync
as ana sync

step "crm conflicts (Ana's laptop): both titles are kept until someone decides"
as ana conflicts
step "crm contact show (Ana's laptop): Ana's notes and Bruno's region both arrived"
as ana contact show "$ines"

step "Ana settles the title and syncs; Bruno syncs and has no conflict left"
as ana resolve "$ines" title "CFO" >/dev/null
as ana sync
as bruno sync
as bruno conflicts

step "Ana's laptop is lost: her new laptop restores everything from the server"
as ana-new init --user ana --name "Ana Silva" --book north --server "$url" --token "$ana_token"
as ana-new contact show "$ines"
step "crm history (the new laptop): who changed what, from which device, offline or not"
as ana-new history "$ines"

step "A short tour: the manager's laptop, a case, the agenda, a report"
as maria init --user maria --name "Maria Lopes" --book north --server "$url" --token "$maria_token" >/dev/null
deal=$(as bruno case add --title "Fleet renewal" --org "$org" --contact "$ines=decision-maker" \
    --amount 120000 --currency EUR --grade A --close-date 2026-12-31)
as bruno activity add --kind visit --subject "Demo at the plant" \
    --at "$(date -d tomorrow +%Y-%m-%dT10:00 2>/dev/null || date -v+1d +%Y-%m-%dT10:00)" \
    --case "$deal" --contact "$ines" >/dev/null
as bruno sync >/dev/null
as maria sync >/dev/null
echo "-- crm agenda --week | head -n 5 (Bruno)"
as bruno agenda --week | head -n 5
echo "-- crm contact list --search acme (Maria)"
as maria contact list --search acme
echo "-- crm report pipeline --by owner (Maria)"
as maria report pipeline --by owner

stop_server
step "Done. The server is stopped; the laptops' data dirs are in $dir"
echo "Keep exploring offline: CRM_HOME=$dir/ana-new $CRM_BIN --help"
