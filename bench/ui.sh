#!/usr/bin/env bash
# Web UI benchmark: the server time of each main page of `crm ui` on the 180k-record demo book
# (50,000 contacts, 10,000 organizations, 20,000 cases, 100,000 activities), from a release build,
# and what the UI adds to the release binary.
#
# Usage: bench/ui.sh [--runs N] [--crm PATH] [--dir DIR] [--keep] [--small]
#   --runs N    timed requests per page (default 10, after one untimed warm-up request)
#   --crm PATH  use this binary instead of building `target/release/crm`
#   --dir DIR   use (or build) the book in DIR/data; an existing book is reused
#   --keep      keep the data dir
#   --small     a book 10x smaller, for a quick check
# A page's time is curl's total time on loopback (request sent to last byte read): the server's
# time to read the store and render the page, plus a loopback round trip.
# Target: every page <= 100 ms. Exits 1 if one is missed.
# The binary: its size, and the bytes of the UI's own code and of the crates only the UI uses
# (axum, matchit, maud, tower/tower-http, serde_urlencoded), summed from its symbol table (nm),
# plus its built-in assets (htmx, script, style).
# Needs bash, curl, awk, sort, nm, size.
set -euo pipefail

RUNS=10
CRM=""
DIR=""
KEEP=0
SCALE=1
while [[ $# -gt 0 ]]; do
    case "$1" in
        --runs) RUNS="$2"; shift 2 ;;
        --crm) CRM="$2"; shift 2 ;;
        --dir) DIR="$2"; shift 2 ;;
        --keep) KEEP=1; shift ;;
        --small) SCALE=10; shift ;;
        -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
        *) echo "unknown argument: $1" >&2; exit 2 ;;
    esac
done

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [[ -z "$CRM" ]]; then
    echo "Building crm (release)..." >&2
    (cd "$ROOT" && cargo build --release --quiet -p crm-client --bin crm)
    CRM="${CARGO_TARGET_DIR:-$ROOT/target}/release/crm"
fi
[[ -x "$CRM" ]] || { echo "no crm binary at $CRM" >&2; exit 2; }

if [[ -z "$DIR" ]]; then
    DIR="$(mktemp -d "${TMPDIR:-/tmp}/crm-bench-ui.XXXXXX")"
    DIR_IS_TEMP=1
else
    DIR_IS_TEMP=0
    mkdir -p "$DIR"
fi
UI_PID=""
cleanup() {
    if [[ -n "$UI_PID" ]]; then kill -INT "$UI_PID" 2>/dev/null || true; wait "$UI_PID" 2>/dev/null || true; fi
    if [[ $KEEP -eq 0 && $DIR_IS_TEMP -eq 1 ]]; then rm -rf "$DIR"; fi
}
trap cleanup EXIT
DATA="$DIR/data"
crm() { "$CRM" --data-dir "$DATA" "$@"; }

if [[ ! -e "$DATA" ]]; then
    CONTACTS=$((50000 / SCALE)) ORGS=$((10000 / SCALE)) CASES=$((20000 / SCALE)) ACTIVITIES=$((100000 / SCALE))
    echo "Building the book: $CONTACTS contacts, $ORGS orgs, $CASES cases, $ACTIVITIES activities..." >&2
    crm demo-data --contacts "$CONTACTS" --orgs "$ORGS" --cases "$CASES" --activities "$ACTIVITIES" >/dev/null 2>"$DIR/err" \
        || { cat "$DIR/err" >&2; exit 1; }
fi
CONTACT=$(crm --json contact list --limit 1 | sed -n 's/.*"id": *"\([^"]*\)".*/\1/p' | head -1)
NAME=$(crm --json contact list --limit 1 | sed -n 's/.*"name": *"\([^" ]*\).*/\1/p' | head -1)
ORG=$(crm --json org list --limit 1 | sed -n 's/.*"id": *"\([^"]*\)".*/\1/p' | head -1)
CASE=$(crm --json case list --limit 1 | sed -n 's/.*"id": *"\([^"]*\)".*/\1/p' | head -1)

"$CRM" --data-dir "$DATA" ui --port 0 >"$DIR/url" 2>"$DIR/ui-err" &
UI_PID=$!
for _ in $(seq 100); do [[ -s "$DIR/url" ]] && break; sleep 0.1; done
URL=$(head -1 "$DIR/url")
[[ "$URL" == http://127.0.0.1:* ]] || { echo "crm ui printed no address" >&2; cat "$DIR/ui-err" >&2; exit 1; }
BASE="${URL%%/\?*}"
JAR="$DIR/cookies"
curl -s -o /dev/null -c "$JAR" "$URL"

stats() {
    sort -n | awk '{ v[NR] = $1 } END {
        if (NR == 0) { print "NaN NaN NaN"; exit }
        med = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
        i90 = int(0.9 * NR + 0.999999); if (i90 < 1) i90 = 1; if (i90 > NR) i90 = NR
        printf "%.1f %.1f %.1f\n", med, v[i90], v[1] }'
}

ROWS=()
FAILED=0
page() {
    local name="$1" path="$2" i t code times=()
    for ((i = 0; i <= RUNS; i++)); do
        # `{i}` in a path becomes the run's number (01, 02, ...): a page asked of another moment
        # each time, so none is served from what the UI kept.
        local asked="${path//\{i\}/$(printf %02d $((i % 28 + 1)))}"
        read -r code t < <(curl -s -o /dev/null -b "$JAR" -w '%{http_code} %{time_total}\n' "$BASE$asked")
        [[ "$code" == 200 ]] || { echo "GET $path answered $code" >&2; exit 1; }
        ((i > 0)) && times+=("$(awk -v t="$t" 'BEGIN { print t * 1000 }')")
    done
    local med p90 min verdict
    read -r med p90 min < <(printf '%s\n' "${times[@]}" | stats)
    verdict=$(awk -v v="$med" 'BEGIN { print (v <= 100) ? "PASS" : "FAIL" }')
    [[ $verdict == PASS ]] || FAILED=1
    ROWS+=("$(printf '%-34s %10s %10s %10s %10s  %s' "$name" "$med" "$p90" "$min" "<= 100 ms" "$verdict")")
    echo "  $name: median $med ms" >&2
}

echo "Timing $RUNS requests of each page..." >&2
page "today" "/"
page "agenda (week)" "/agenda"
page "agenda (month)" "/agenda?view=month"
page "contacts" "/contacts"
page "contacts, search" "/contacts?q=$NAME"
page "a contact (with its network)" "/contacts/$CONTACT"
page "organizations" "/orgs"
page "an organization" "/orgs/$ORG"
page "pipeline board" "/cases"
page "a case" "/cases/$CASE"
page "reports (6 reports)" "/reports"
page "reports, drawn afresh" "/reports?as_of=2026-11-{i}"
page "settings" "/settings"
page "sync" "/sync"

echo
printf '%-34s %10s %10s %10s %10s  %s\n' "page ($(nproc 2>/dev/null || echo ?) cores, $RUNS runs)" median p90 min target result
printf '%s\n' "${ROWS[@]}"

echo
SIZE=$(stat -c %s "$CRM" 2>/dev/null || stat -f %z "$CRM")
UI_SYMBOLS=$(nm -S -C "$CRM" 2>/dev/null | awk '
    function hex(h,   i, n) { n = 0; h = tolower(h)
        for (i = 1; i <= length(h); i++) n = n * 16 + index("0123456789abcdef", substr(h, i, 1)) - 1
        return n }
    NF >= 4 && ($0 ~ /crm_client::ui::|axum|matchit|maud|tower_http|tower::|serde_urlencoded/) { s += hex($2) }
    END { print s + 0 }')
# Code and data without debug info (the release profile keeps line tables in the file).
LOADED=$(size "$CRM" 2>/dev/null | awk 'NR == 2 { print $1 + $2 }')
ASSETS=$(cat "$ROOT"/client/src/ui/assets/*.js "$ROOT"/client/src/ui/assets/*.css | wc -c)
awk -v size="$SIZE" -v loaded="${LOADED:-0}" -v ui="$UI_SYMBOLS" -v assets="$ASSETS" 'BEGIN {
    printf "release binary: %.1f MB on disk, %.1f MB of code and data\n", size / 1048576, loaded / 1048576
    printf "  the UI (its code and the crates only it uses, by symbol): %.2f MB\n", ui / 1048576
    printf "  its built-in assets (htmx, script, style): %.0f kB\n", assets / 1024
}'
if [[ $KEEP -eq 1 ]]; then echo "data kept in $DATA"; fi
exit $FAILED
