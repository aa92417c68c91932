#!/usr/bin/env bash
# A tour of the offline CRM on a fresh data dir: sample data, search, pipeline, agenda, and two
# replicas that edit the same contact offline and merge without losing either edit.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --release -q -p crm-client
crm() { ./target/release/crm "$@"; }
dir=${1:-$(mktemp -d -t crm-demo.XXXXXX)}
export CRM_HOME="$dir/ana"
echo "== Data dir: $CRM_HOME"
crm demo-data --user ana --contacts 2000 --orgs 300 --cases 600 --activities 3000

echo; echo "== crm contact list --search silva --limit 5"
crm contact list --search silva --limit 5
echo; echo "== crm case list --stage negotiation --limit 5"
crm case list --stage negotiation --limit 5
echo; echo "== crm agenda --week"
crm agenda --week | head -n 15

echo; echo "== Bruno copies the book to his laptop; both edit the same contact offline"
id=$(crm contact list --search silva --limit 1 --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')
CRM_HOME="$dir/bruno" crm init --user bruno --name "Bruno Costa" >/dev/null
CRM_HOME="$dir/bruno" crm merge --from "$CRM_HOME"
crm contact edit "$id" --title "Chief Financial Officer" --notes "Prefers morning calls." >/dev/null 2>&1
CRM_HOME="$dir/bruno" crm contact edit "$id" --title "CFO" --region south >/dev/null 2>&1
crm merge --from "$dir/bruno"
echo; echo "== crm contact show $id (Bruno's region and Ana's notes both kept)"
crm contact show "$id"
echo; echo "== crm conflicts (both titles kept until someone decides)"
crm conflicts
crm resolve "$id" title "CFO" >/dev/null 2>&1
echo; echo "== after crm resolve $id title CFO"
crm conflicts
echo; echo "== crm history $id"
crm history "$id"
echo; echo "Try it yourself: CRM_HOME=$CRM_HOME ./target/release/crm --help"
