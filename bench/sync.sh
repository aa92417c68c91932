#!/usr/bin/env bash
# Sync benchmark (issue 3): a 180k-record book through a real `crm-sync-server`, against targets.
#
# Builds a sample book with `crm demo-data` (50,000 contacts, 10,000 organizations, 20,000 cases,
# 100,000 activities by default) on device A, starts `crm-sync-server serve` on 127.0.0.1:0 with an
# empty data dir, then measures (whole `crm` processes, start-up included):
#   1. first upload of the book from A (`crm sync --server ws://ADDR`): time and bytes;
#   2. restore on a fresh device B (`crm init --user x --server ws://ADDR`): time and bytes;
#   3. reconnect when nothing changed (`crm sync` on A, median of --runs): time and bytes;
#   4. reconnect after 100 offline edits (`crm contact edit` x100 on A, then `crm sync`): time;
# and reports the server's RSS after the restore and its data dir bytes per record.
# Prints a table of figures, targets and PASS/FAIL.
#
# Usage: bench/sync.sh [--runs N] [--bin DIR] [--dir DIR] [--book DIR] [--keep] [--small]
#   --runs N    timed runs of the nothing-changed reconnect (default 5, after one warm-up)
#   --book DIR  copy device A's data dir from DIR (a fresh `crm demo-data` book of the same size,
#               never synced) instead of building it: saves a minute per run
#   --bin DIR   use `crm` and `crm-sync-server` from DIR instead of building them (release)
#   --dir DIR   work in DIR (default: a new temporary dir, removed at the end)
#   --keep      keep the data dirs
#   --small     a book 10x smaller, for a quick check (targets unchanged)
# Needs bash >= 5 (for $EPOCHREALTIME), cargo (unless --bin), timeout, awk, sed. Uses `sqlite3`
# for a WAL checkpoint of the server's store before measuring its size, when present.
# Every step runs under `timeout`; the server is stopped (TERM, then KILL) on exit.
# Exits 1 if any target is missed or a step fails.
set -euo pipefail

RUNS=5
BIN=""
DIR=""
BOOK=""
KEEP=0
SCALE=1
while [[ $# -gt 0 ]]; do
    case "$1" in
        --runs) RUNS="$2"; shift 2 ;;
        --bin) BIN="$2"; shift 2 ;;
        --dir) DIR="$2"; shift 2 ;;
        --book) BOOK="$2"; shift 2 ;;
        --keep) KEEP=1; shift ;;
        --small) SCALE=10; shift ;;
        -h|--help) sed -n '2,26p' "$0"; exit 0 ;;
        *) echo "unknown argument: $1" >&2; exit 2 ;;
    esac
done
if [[ -z "${EPOCHREALTIME:-}" ]]; then
    echo "bench/sync.sh needs bash 5 or newer (for \$EPOCHREALTIME)" >&2
    exit 2
fi

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [[ -z "$BIN" ]]; then
    echo "Building crm and crm-sync-server (release)..." >&2
    (cd "$ROOT" && cargo build --release --quiet -p crm-client --bin crm \
        -p crm-sync-server --bin crm-sync-server)
    BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release"
fi
CRM="$BIN/crm"
SERVER_BIN="$BIN/crm-sync-server"
[[ -x "$CRM" && -x "$SERVER_BIN" ]] || { echo "no crm / crm-sync-server in $BIN" >&2; exit 2; }

if [[ -z "$DIR" ]]; then
    DIR="$(mktemp -d "${TMPDIR:-/tmp}/crm-syncbench.XXXXXX")"
    DIR_IS_TEMP=1
else
    DIR_IS_TEMP=0
    mkdir -p "$DIR"
    for d in a b srv; do
        [[ ! -e "$DIR/$d" ]] || { echo "$DIR/$d already exists" >&2; exit 2; }
    done
fi
A="$DIR/a" B="$DIR/b" SRV="$DIR/srv"
SERVER_PID=""
cleanup() {
    if [[ -n $SERVER_PID ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -TERM "$SERVER_PID" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$SERVER_PID" 2>/dev/null || true
    fi
    if [[ $KEEP -eq 0 ]]; then
        if [[ $DIR_IS_TEMP -eq 1 ]]; then rm -rf "$DIR"; else rm -rf "$A" "$B" "$SRV" "$DIR"/*.log "$DIR"/*.json; fi
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

CONTACTS=$((50000 / SCALE)) ORGS=$((10000 / SCALE)) CASES=$((20000 / SCALE)) ACTIVITIES=$((100000 / SCALE))
RECORDS=$((CONTACTS + ORGS + CASES + ACTIVITIES + 1)) # + the user record of the book's device

now_us() { local t=${EPOCHREALTIME}; echo "${t/[.,]/}"; }
ms_since() { awk -v a="$1" -v b="$(now_us)" 'BEGIN { printf "%.1f", (b - a) / 1000 }'; }
# json_num FIELD FILE: the first number after "FIELD": in FILE.
json_num() { sed -n "s/.*\"$1\": *\([0-9][0-9]*\).*/\1/p" "$2" | head -n 1; }
fail() { echo "bench/sync.sh: $*" >&2; exit 1; }

# run_crm LIMIT_S LOG DATA ARGS...: runs crm under `timeout`, stdout to LOG; fails loudly.
run_crm() {
    local limit="$1" log="$2" data="$3"; shift 3
    timeout "$limit" "$CRM" --data-dir "$data" "$@" >"$log" 2>"$DIR/err.log" || {
        echo "failed (or over ${limit} s): crm $*" >&2; cat "$DIR/err.log" >&2; exit 1; }
}

ROWS=()
FAILED=0
# row NAME VALUE TARGET UNIT [NOTE]: PASS when VALUE <= TARGET; TARGET "-" is informational.
row() {
    local verdict=info
    if [[ $3 != - ]]; then
        verdict=$(awk -v v="$2" -v t="$3" 'BEGIN { print (v <= t) ? "PASS" : "FAIL" }')
        [[ $verdict == PASS ]] || FAILED=1
    fi
    local target="-"
    [[ $3 == - ]] || target="<= $3 $4"
    ROWS+=("$(printf '%-40s %12s %-4s %14s  %-5s %s' "$1" "$2" "$4" "$target" "$verdict" "${5:-}")")
}

echo "crm: $CRM" >&2
echo "server: $SERVER_BIN" >&2
echo "work dir: $DIR" >&2

if [[ -n $BOOK ]]; then
    echo "Copying the book on device A from $BOOK..." >&2
    cp -R "$BOOK" "$A"
else
    echo "Building the book on device A: $CONTACTS contacts, $ORGS orgs, $CASES cases, $ACTIVITIES activities..." >&2
    t0=$(now_us)
    run_crm 600 "$DIR/demo.log" "$A" demo-data --contacts "$CONTACTS" --orgs "$ORGS" --cases "$CASES" --activities "$ACTIVITIES"
    echo "  demo-data: $(ms_since "$t0") ms" >&2
fi

echo "Starting crm-sync-server..." >&2
mkdir -p "$SRV"
"$SERVER_BIN" serve --listen 127.0.0.1:0 --data-dir "$SRV" >"$DIR/server.out" 2>"$DIR/server.log" &
SERVER_PID=$!
ADDR=""
for _ in $(seq 100); do
    ADDR=$(sed -n 's/^listening on \(.*\)$/\1/p' "$DIR/server.out" | head -n 1)
    [[ -n $ADDR ]] && break
    kill -0 "$SERVER_PID" 2>/dev/null || { cat "$DIR/server.log" >&2; fail "the server did not start"; }
    sleep 0.1
done
[[ -n $ADDR ]] || fail "the server did not print its address within 10 s"
URL="ws://$ADDR"
echo "  $URL (pid $SERVER_PID)" >&2

# 1. First upload from the device that made the book.
echo "1. First upload of $RECORDS records..." >&2
t0=$(now_us)
run_crm 900 "$DIR/upload.json" "$A" --json sync --server "$URL" --timeout 120
UP_MS=$(ms_since "$t0")
UP_SENT=$(json_num bytes_sent "$DIR/upload.json")
UP_RECV=$(json_num bytes_received "$DIR/upload.json")
echo "  $UP_MS ms, sent $UP_SENT B, received $UP_RECV B" >&2

# 2. Restore on a fresh device.
echo "2. Restore on a fresh device..." >&2
t0=$(now_us)
run_crm 900 "$DIR/restore.json" "$B" --json init --user x --server "$URL"
RE_MS=$(ms_since "$t0")
RE_SENT=$(json_num bytes_sent "$DIR/restore.json")
RE_RECV=$(json_num bytes_received "$DIR/restore.json")
RE_CREATED=$(json_num created "$DIR/restore.json")
echo "  $RE_MS ms, $RE_CREATED records, sent $RE_SENT B, received $RE_RECV B" >&2
[[ ${RE_CREATED:-0} -eq $RECORDS ]] || fail "the restore brought ${RE_CREATED:-no} records, expected $RECORDS"
RSS_KB=$(awk '/^VmRSS:/ { print $2 }' "/proc/$SERVER_PID/status")
RSS_MB=$(awk -v k="$RSS_KB" 'BEGIN { printf "%.0f", k / 1024 }')

if command -v sqlite3 >/dev/null; then
    for f in "$SRV"/*.sqlite3; do sqlite3 "$f" "PRAGMA wal_checkpoint(TRUNCATE);" >/dev/null 2>&1 || true; done
fi
SRV_BYTES=0
for f in "$SRV"/*; do [[ -f $f ]] && SRV_BYTES=$((SRV_BYTES + $(wc -c <"$f"))); done
SRV_PER_RECORD=$(awk -v b=$SRV_BYTES -v n=$RECORDS 'BEGIN { printf "%.0f", b / n }')

# 3. Reconnect when nothing changed (device A, which uploaded; then B once, which restored).
echo "3. Reconnect with nothing changed ($RUNS runs after a warm-up)..." >&2
times=() sent=0 recv=0
for ((i = 0; i <= RUNS; i++)); do
    t0=$(now_us)
    run_crm 120 "$DIR/noop.json" "$A" --json sync
    t=$(ms_since "$t0")
    if ((i > 0)); then
        times+=("$t")
        sent=$(json_num bytes_sent "$DIR/noop.json") recv=$(json_num bytes_received "$DIR/noop.json")
    fi
done
NOOP_MS=$(printf '%s\n' "${times[@]}" | sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }')
NOOP_BYTES=$((sent + recv))
NOOP_ENGINE_MS=$(json_num millis "$DIR/noop.json")
echo "  median $NOOP_MS ms (in-sync part $NOOP_ENGINE_MS ms), $sent B sent, $recv B received" >&2
t0=$(now_us)
run_crm 120 "$DIR/noop-b.json" "$B" --json sync
NOOP_B_MS=$(ms_since "$t0")
NOOP_B_BYTES=$(($(json_num bytes_sent "$DIR/noop-b.json") + $(json_num bytes_received "$DIR/noop-b.json")))
echo "  restored device: $NOOP_B_MS ms, $NOOP_B_BYTES B" >&2

# 4. 100 offline edits, then sync.
echo "4. 100 offline edits on A, then sync..." >&2
run_crm 60 "$DIR/list.json" "$A" --json contact list --limit 100
mapfile -t IDS < <(sed -n 's/.*"id": *"\([^"]*\)".*/\1/p' "$DIR/list.json")
[[ ${#IDS[@]} -eq 100 ]] || fail "expected 100 contacts to edit, found ${#IDS[@]}"
t0=$(now_us)
for id in "${IDS[@]}"; do run_crm 30 /dev/null "$A" contact edit "$id" --title "Offline edit"; done
echo "  100 edits: $(ms_since "$t0") ms" >&2
t0=$(now_us)
run_crm 120 "$DIR/edits.json" "$A" --json sync
ED_MS=$(ms_since "$t0")
ED_BYTES=$(($(json_num bytes_sent "$DIR/edits.json") + $(json_num bytes_received "$DIR/edits.json")))
ED_DIFF=$(json_num differing "$DIR/edits.json")
echo "  sync: $ED_MS ms, $ED_BYTES B, $ED_DIFF documents differing" >&2
[[ ${ED_DIFF:-0} -eq 100 ]] || fail "the sync after 100 edits found ${ED_DIFF:-no} documents differing, expected 100"
# ...and the other device receives them.
t0=$(now_us)
run_crm 120 "$DIR/edits-b.json" "$B" --json sync
ED_B_MS=$(ms_since "$t0")
ED_B_UPDATED=$(json_num updated "$DIR/edits-b.json")
echo "  device B receives them: $ED_B_MS ms, $ED_B_UPDATED updated" >&2
[[ ${ED_B_UPDATED:-0} -eq 100 ]] || fail "device B received ${ED_B_UPDATED:-no} updated records, expected 100"

kb() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1024 }'; }
mb() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1048576 }'; }
s() { awk -v m="$1" 'BEGIN { printf "%.1f", m / 1000 }'; }
row "1. first upload: time" "$(s "$UP_MS")" - s
row "1. first upload: bytes sent" "$(mb "$UP_SENT")" - MB "received $(mb "$UP_RECV") MB"
row "2. fresh-device restore: time" "$(s "$RE_MS")" 30 s "$RE_CREATED records"
row "2. fresh-device restore: bytes received" "$(mb "$RE_RECV")" - MB "sent $(mb "$RE_SENT") MB"
row "3. reconnect, nothing changed: time" "$NOOP_MS" 100 ms "median of $RUNS; in-sync part $NOOP_ENGINE_MS ms"
row "3. reconnect, nothing changed: bytes" "$(kb "$NOOP_BYTES")" 10 KB "sent+received"
row "3b. same, restored device: time" "$NOOP_B_MS" 100 ms
row "3b. same, restored device: bytes" "$(kb "$NOOP_B_BYTES")" 10 KB
row "4. sync after 100 offline edits: time" "$ED_MS" 1000 ms "$(kb "$ED_BYTES") KB"
row "4b. other device receives them: time" "$ED_B_MS" 1000 ms
row "server RSS after the restore" "$RSS_MB" - MB
row "server data dir per record" "$SRV_PER_RECORD" - B "$(mb "$SRV_BYTES") MB in all"

echo
printf '%-40s %12s %-4s %14s  %-5s %s\n' "sync benchmark ($RECORDS records, $(nproc 2>/dev/null || echo ?) cores)" value unit target result
printf '%s\n' "${ROWS[@]}"
if [[ $KEEP -eq 1 ]]; then echo "data kept in $DIR"; fi
exit $FAILED
