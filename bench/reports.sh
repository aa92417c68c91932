#!/usr/bin/env bash
# Report benchmark: whole-process wall times of every `crm report`, now and `--as-of`, on the
# 180k-record demo book (50,000 contacts, 10,000 organizations, 20,000 cases, 100,000 activities).
#
# Usage: bench/reports.sh [--runs N] [--crm PATH] [--dir DIR] [--keep] [--small]
#   --runs N    timed runs per command (default 10, after one untimed warm-up run)
#   --crm PATH  use this binary instead of building `target/release/crm`
#   --dir DIR   use (or build) the book in DIR/data; an existing book is reused
#   --keep      keep the data dir
#   --small     a book 10x smaller, for a quick check
# Targets: every report <= 200 ms, every report --as-of <= 2 s. Exits 1 if one is missed.
# Needs bash >= 5 (for $EPOCHREALTIME), awk, sort.
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
        -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
        *) echo "unknown argument: $1" >&2; exit 2 ;;
    esac
done
if [[ -z "${EPOCHREALTIME:-}" ]]; then
    echo "bench/reports.sh needs bash 5 or newer (for \$EPOCHREALTIME)" >&2
    exit 2
fi

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [[ -z "$CRM" ]]; then
    echo "Building crm (release)..." >&2
    (cd "$ROOT" && cargo build --release --quiet -p crm-client --bin crm)
    CRM="${CARGO_TARGET_DIR:-$ROOT/target}/release/crm"
fi
[[ -x "$CRM" ]] || { echo "no crm binary at $CRM" >&2; exit 2; }

if [[ -z "$DIR" ]]; then
    DIR="$(mktemp -d "${TMPDIR:-/tmp}/crm-bench-reports.XXXXXX")"
    DIR_IS_TEMP=1
else
    DIR_IS_TEMP=0
    mkdir -p "$DIR"
fi
cleanup() {
    if [[ $KEEP -eq 0 && $DIR_IS_TEMP -eq 1 ]]; then rm -rf "$DIR"; fi
}
trap cleanup EXIT
DATA="$DIR/data"
crm() { "$CRM" --data-dir "$DATA" "$@"; }
now_us() { local t=${EPOCHREALTIME}; echo "${t/[.,]/}"; }

stats() {
    sort -n | awk '{ v[NR] = $1 } END {
        if (NR == 0) { print "NaN NaN NaN"; exit }
        med = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
        i90 = int(0.9 * NR + 0.999999); if (i90 < 1) i90 = 1; if (i90 > NR) i90 = NR
        printf "%.1f %.1f %.1f\n", med / 1000, v[i90] / 1000, v[1] / 1000 }'
}

ROWS=()
FAILED=0
row() {
    local verdict
    verdict=$(awk -v v="$2" -v t="$3" 'BEGIN { print (v <= t) ? "PASS" : "FAIL" }')
    [[ $verdict == PASS ]] || FAILED=1
    ROWS+=("$(printf '%-44s %10s %10s %10s %12s  %s' "$1" "$2" "${4:--}" "${5:--}" "<= $3 ms" "$verdict")")
}

bench() {
    local name="$1" target="$2"; shift 2
    local i t0 t1 times=()
    for ((i = 0; i <= RUNS; i++)); do
        t0=$(now_us)
        crm "$@" >/dev/null 2>"$DIR/err" || { echo "failed: crm $*" >&2; cat "$DIR/err" >&2; exit 1; }
        t1=$(now_us)
        ((i > 0)) && times+=($((t1 - t0)))
    done
    local med p90 min
    read -r med p90 min < <(printf '%s\n' "${times[@]}" | stats)
    row "$name" "$med" "$target" "$p90" "$min"
    echo "  $name: median $med ms, p90 $p90 ms" >&2
}

if [[ ! -e "$DATA" ]]; then
    CONTACTS=$((50000 / SCALE)) ORGS=$((10000 / SCALE)) CASES=$((20000 / SCALE)) ACTIVITIES=$((100000 / SCALE))
    echo "Building the book: $CONTACTS contacts, $ORGS orgs, $CASES cases, $ACTIVITIES activities..." >&2
    crm demo-data --contacts "$CONTACTS" --orgs "$ORGS" --cases "$CASES" --activities "$ACTIVITIES" >/dev/null 2>"$DIR/err" \
        || { cat "$DIR/err" >&2; exit 1; }
fi
# A date inside the book's history (the demo book spans the year before today).
AS_OF=$(date -d '-120 days' +%F 2>/dev/null || date -v-120d +%F)

echo "Timing $RUNS runs of each report (whole process)..." >&2
for kind in pipeline funnel cycle revenue grades activity; do
    bench "report $kind" 200 report "$kind"
done
bench "report pipeline --by owner --csv" 200 report pipeline --by owner --csv
bench "report revenue --by region --month last" 200 report revenue --by region --month last
bench "report pipeline --json" 200 --json report pipeline
for kind in pipeline funnel cycle revenue grades activity; do
    bench "report $kind --as-of $AS_OF" 2000 report "$kind" --as-of "$AS_OF"
done

echo
printf '%-44s %10s %10s %10s %12s  %s\n' "benchmark ($(nproc 2>/dev/null || echo ?) cores, $RUNS runs)" median p90 min target result
printf '%s\n' "${ROWS[@]}"
if [[ $KEEP -eq 1 ]]; then echo "data kept in $DATA"; fi
exit $FAILED
