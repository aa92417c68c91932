#!/usr/bin/env bash
# Import speed (issue 13): 10,000 contacts from a Google Contacts CSV and from a vCard file into an
# empty data dir, then the same file again (every row matched, nothing new), with the release
# build. Prints the seconds of each run. Given a data dir BOOK (e.g. the 180k demo book that
# `bench/reports.sh --keep` leaves), it also imports each file into a copy of it, again, and times
# `crm duplicates` there (the book's read model is brought up to date, untimed, first).
#
# Usage: bench/import.sh [CONTACTS] [BOOK]   (default 10000; build first: cargo build --release -p crm-client)
#        CRM=path/to/crm bench/import.sh ...   (another build, e.g. to compare before and after)
set -euo pipefail
N=${1:-10000}
BOOK=${2:-}
CRM=${CRM:-"$(dirname "$0")/../target/release/crm"}
[ -x "$CRM" ] || { echo "no $CRM: cargo build --release -p crm-client" >&2; exit 1; }
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
python3 - "$N" "$TMP" <<'PY'
import sys
n, tmp = int(sys.argv[1]), sys.argv[2]
with open(f"{tmp}/google.csv", "w", encoding="utf-8", newline="") as f:
    f.write("First Name,Middle Name,Last Name,Organization Name,Organization Title,Notes,Labels,"
            "E-mail 1 - Label,E-mail 1 - Value,Phone 1 - Label,Phone 1 - Value,Address 1 - Label,Address 1 - Formatted\r\n")
    for i in range(n):
        f.write(f"Given{i},,Family{i},Company {i % 500},Buyer,\"Met at fair {i}\",* myContacts ::: Fair,"
                f"* Work,person{i}@example.com,Mobile,+49 170 {i:07d},Work,\"Street {i}\nBerlin\"\r\n")
with open(f"{tmp}/book.vcf", "w", encoding="utf-8", newline="") as f:
    for i in range(n):
        f.write(f"BEGIN:VCARD\r\nVERSION:3.0\r\nN:Family{i};Given{i};;;\r\nFN:Given{i} Family{i}\r\n"
                f"ORG:Company {i % 500}\r\nTITLE:Buyer\r\nEMAIL;type=INTERNET;type=WORK:card{i}@example.com\r\n"
                f"TEL;type=CELL:+49 171 {i:07d}\r\nCATEGORIES:Fair\r\nUID:card-{i}\r\nEND:VCARD\r\n")
PY
run() { # label data-dir command...
  local label=$1 dir=$2 start end
  shift 2
  start=$(date +%s.%N)
  "$CRM" --data-dir "$dir" "$@" | tail -1
  end=$(date +%s.%N)
  python3 -c "print('$label: %.2f s' % ($end - $start))"
}
for f in google.csv book.vcf; do
  "$CRM" --data-dir "$TMP/$f.d" init --user bench >/dev/null 2>&1
  run "$N contacts from $f into an empty data dir" "$TMP/$f.d" import "$TMP/$f"
  run "the same $f again" "$TMP/$f.d" import "$TMP/$f"
  rm -rf "$TMP/$f.d"
  if [ -n "$BOOK" ]; then
    cp -r "$BOOK" "$TMP/book.d"
    "$CRM" --data-dir "$TMP/book.d" contact list --limit 1 >/dev/null 2>&1
    run "$N contacts from $f into a copy of $BOOK" "$TMP/book.d" import "$TMP/$f"
    run "the same $f again" "$TMP/book.d" import "$TMP/$f"
    run "crm duplicates there" "$TMP/book.d" duplicates --limit 1
    run "crm duplicates orgs there" "$TMP/book.d" duplicates orgs --limit 1
    rm -rf "$TMP/book.d"
  fi
done
