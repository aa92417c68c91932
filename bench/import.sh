#!/usr/bin/env bash
# Import speed (issue 13): 10,000 contacts from a Google Contacts CSV and from a vCard file into an
# empty data dir, then the same file again (every row matched, nothing new), with the release
# build. Prints the seconds of each run.
#
# Usage: bench/import.sh [CONTACTS]   (default 10000; build first: cargo build --release -p crm-client)
set -euo pipefail
N=${1:-10000}
CRM="$(dirname "$0")/../target/release/crm"
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
run() { # label data-dir file
  local start end
  start=$(date +%s.%N)
  "$CRM" --data-dir "$2" import "$3" | tail -1
  end=$(date +%s.%N)
  python3 -c "print('$1: %.2f s' % ($end - $start))"
}
for f in google.csv book.vcf; do
  "$CRM" --data-dir "$TMP/$f.d" init --user bench >/dev/null 2>&1
  run "$N contacts from $f into an empty data dir" "$TMP/$f.d" "$TMP/$f"
  run "the same $f again" "$TMP/$f.d" "$TMP/$f"
done
