#!/usr/bin/env bash
# Performance benchmark of the offline client (`crm`), against its targets.
#
# Builds a sample book with `crm demo-data` (50,000 contacts, 10,000 organizations, 20,000 cases,
# 100,000 activities by default), then times whole `crm` processes (start-up included) for the
# everyday commands, and prints a table of figures, targets and PASS/FAIL.
#
# Usage: bench/offline.sh [--runs N] [--crm PATH] [--dir DIR] [--keep] [--small]
#   --runs N    timed runs per command (default 20; one untimed warm-up run comes first)
#   --crm PATH  use this binary instead of building `target/release/crm`
#   --dir DIR   build the book in DIR (default: a new temporary dir, removed at the end)
#   --keep      keep the data dir
#   --small     a book 10x smaller, for a quick check (the demo-data target is scaled too)
# Needs bash >= 5 (for $EPOCHREALTIME), cargo (unless --crm), awk, sort. Uses `sqlite3` for the
# WAL checkpoint when present (otherwise `crm` closing the store has already checkpointed it).
# Exits 1 if any target is missed. Takes about 2-4 minutes on a 2-core machine.
set -euo pipefail

RUNS=20
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
        -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
        *) echo "unknown argument: $1" >&2; exit 2 ;;
    esac
done
if [[ -z "${EPOCHREALTIME:-}" ]]; then
    echo "bench/offline.sh needs bash 5 or newer (for \$EPOCHREALTIME)" >&2
    exit 2
fi

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [[ -z "$CRM" ]]; then
    echo "Building crm (release)..." >&2
    (cd "$ROOT" && cargo build --release --quiet -p crm-client --bin crm)
    TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
    CRM="$TARGET_DIR/release/crm"
fi
[[ -x "$CRM" ]] || { echo "no crm binary at $CRM" >&2; exit 2; }

if [[ -z "$DIR" ]]; then
    DIR="$(mktemp -d "${TMPDIR:-/tmp}/crm-bench.XXXXXX")"
    DIR_IS_TEMP=1
else
    DIR_IS_TEMP=0
    mkdir -p "$DIR"
    [[ ! -e "$DIR/data" ]] || { echo "$DIR already holds a store" >&2; exit 2; }
fi
cleanup() {
    if [[ $KEEP -eq 0 ]]; then
        if [[ $DIR_IS_TEMP -eq 1 ]]; then rm -rf "$DIR"; else rm -rf "$DIR/data" "$DIR/err"; fi
    fi
}
trap cleanup EXIT
DATA="$DIR/data"

CONTACTS=$((50000 / SCALE)) ORGS=$((10000 / SCALE)) CASES=$((20000 / SCALE)) ACTIVITIES=$((100000 / SCALE))
crm() { "$CRM" --data-dir "$DATA" "$@"; }

now_us() { local t=${EPOCHREALTIME}; echo "${t/[.,]/}"; }

# Prints median, p90 and min (ms, one decimal) of the microsecond figures on stdin.
stats() {
    sort -n | awk '{ v[NR] = $1 } END {
        if (NR == 0) { print "NaN NaN NaN"; exit }
        med = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
        i90 = int(0.9 * NR + 0.999999); if (i90 < 1) i90 = 1; if (i90 > NR) i90 = NR
        printf "%.1f %.1f %.1f\n", med / 1000, v[i90] / 1000, v[1] / 1000 }'
}

ROWS=()
FAILED=0
# row NAME VALUE TARGET UNIT [P90 MIN]: PASS when VALUE <= TARGET.
row() {
    local verdict
    verdict=$(awk -v v="$2" -v t="$3" 'BEGIN { print (v <= t) ? "PASS" : "FAIL" }')
    [[ $verdict == PASS ]] || FAILED=1
    ROWS+=("$(printf '%-34s %10s %10s %10s %12s  %s' "$1" "$2" "${5:--}" "${6:--}" "<= $3 $4" "$verdict")")
}

# bench NAME TARGET_MS CMD...: one warm-up, then $RUNS timed whole-process runs. The command may
# use the placeholder @ALT@, replaced by an alternating value from ALT_VALUES.
ALT_VALUES=()
bench() {
    local name="$1" target="$2"; shift 2
    local i t0 t1 times=() args a
    for ((i = 0; i <= RUNS; i++)); do
        args=()
        for a in "$@"; do
            if [[ $a == "@ALT@" ]]; then a="${ALT_VALUES[$((i % ${#ALT_VALUES[@]}))]}"; fi
            args+=("$a")
        done
        t0=$(now_us)
        "$CRM" --data-dir "$DATA" "${args[@]}" >/dev/null 2>"$DIR/err" || {
            echo "failed: crm ${args[*]}" >&2; cat "$DIR/err" >&2; exit 1; }
        t1=$(now_us)
        ((i > 0)) && times+=($((t1 - t0)))
    done
    local med p90 min
    read -r med p90 min < <(printf '%s\n' "${times[@]}" | stats)
    row "$name" "$med" "$target" ms "$p90" "$min"
    echo "  $name: median $med ms, p90 $p90 ms, min $min ms" >&2
}

echo "crm: $CRM" >&2
echo "data: $DATA" >&2
echo "Building the book: $CONTACTS contacts, $ORGS orgs, $CASES cases, $ACTIVITIES activities..." >&2
t0=$(now_us)
crm demo-data --contacts "$CONTACTS" --orgs "$ORGS" --cases "$CASES" --activities "$ACTIVITIES" >/dev/null 2>"$DIR/err" \
    || { cat "$DIR/err" >&2; exit 1; }
t1=$(now_us)
BUILD_S=$(awk -v us=$((t1 - t0)) 'BEGIN { printf "%.1f", us / 1e6 }')
echo "  demo-data: $BUILD_S s" >&2
row "demo-data (s)" "$BUILD_S" "$((120 / SCALE))" s

# Bytes on disk per record: the whole data dir, WAL included, after a checkpoint.
if command -v sqlite3 >/dev/null; then
    sqlite3 "$DATA/crm.sqlite3" "PRAGMA wal_checkpoint(TRUNCATE);" >/dev/null
fi
BYTES=0
for f in "$DATA"/*; do BYTES=$((BYTES + $(wc -c <"$f"))); done
RECORDS=$((CONTACTS + ORGS + CASES + ACTIVITIES + 1)) # + the user record of `crm init`
PER_RECORD=$(awk -v b=$BYTES -v n=$RECORDS 'BEGIN { printf "%.0f", b / n }')
echo "  disk: $BYTES bytes for $RECORDS records = $PER_RECORD bytes/record" >&2
row "disk per record (bytes)" "$PER_RECORD" 2048 B

# Records to work on.
first_id() { sed -n 's/.*"id": *"\([^"]*\)".*/\1/p' | head -n 1; }
CONTACT=$(crm --json contact list --search Silva --limit 1 | first_id)
CASE=$(crm --json case list --stage qualification --limit 1 | first_id)
[[ -n $CONTACT && -n $CASE ]] || { echo "could not find a contact and a case to work on" >&2; exit 1; }

echo "Timing $RUNS runs of each command (whole process)..." >&2
bench "contact list --search Silva" 50 contact list --search Silva
bench "contact show ID" 50 contact show "$CONTACT"
bench "agenda --week" 50 agenda --week
ALT_VALUES=("Head of Sales" "Sales Director")
bench "contact edit ID --title X" 30 contact edit "$CONTACT" --title @ALT@
# The case starts in qualification: the first (warm-up) run moves it to proposal, then back and forth.
ALT_VALUES=(proposal qualification)
bench "case move ID --stage S" 30 case move "$CASE" --stage @ALT@

echo
printf '%-34s %10s %10s %10s %12s  %s\n' "benchmark ($(nproc 2>/dev/null || echo ?) cores, $RUNS runs)" median p90 min target result
printf '%s\n' "${ROWS[@]}"
if [[ $KEEP -eq 1 ]]; then echo "data kept in $DATA"; fi
exit $FAILED
