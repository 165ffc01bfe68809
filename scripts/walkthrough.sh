#!/usr/bin/env bash
# One case from inspection to closed over the HTTP API, with the demo logins
# that `make run` (rectify serve --demo) prints. The README shows this script;
# tests/cli/test_walkthrough.py runs it against a live server, so the two
# cannot drift apart. Needs curl and python3.
#
#   scripts/walkthrough.sh                 # against http://127.0.0.1:8000
#   API=http://host:port scripts/walkthrough.sh
set -euo pipefail
API=${API:-http://127.0.0.1:8000}

# --- helpers -----------------------------------------------------------------
# A bearer token for a user id and password.
login() { curl -sS --fail-with-body "$API/token" -d "username=$1" -d "password=$2" | json 'd["access_token"]'; }
# GET a path as a token's user.
get() { curl -sS --fail-with-body "$API$2" -H "Authorization: Bearer $1"; }
# The ETag (version) of a record, e.g. "3": what If-Match must send back.
etag() { curl -sS --fail-with-body -o /dev/null -D - "$API$2" -H "Authorization: Bearer $1" | tr -d '\r' | sed -n 's/^[Ee][Tt][Aa][Gg]: //p'; }
# POST a JSON body as a token's user, based on an ETag ('' for none).
post() { curl -sS --fail-with-body -X POST "$API$2" -H "Authorization: Bearer $1" ${3:+-H "If-Match: $3"} -H 'Content-Type: application/json' -d "${4:-{\}}"; }
# Evaluate a Python expression over the JSON on stdin, named d.
json() { python3 -c "import json, sys; d = json.load(sys.stdin); print($1)"; }

# --- 1. log in: an inspector, the shop owner, a supervisor ---------------------
CHEN=$(login chenxiaofeng chenxiaofeng-demo)    # 陈小峰, inspector
TAO=$(login taobiaoyin taobiaoyin-demo)         # 陶表印, responsible party
ZHANG=$(login zhangming zhangming-demo)         # 张铭, supervisor

# --- 2. 陈小峰 inspects 陶表印盲人按摩店 with 张铭 on the team --------------------
# The list of sites is a read model: ask for it as of the log's head now, so a
# server that has just started answers once it has caught up.
HEAD=$(curl -sS --fail-with-body "$API/health" | json 'd["head"]')
SITE=$(get "$CHEN" "/sites?after=$HEAD" | json 'next(s["site_id"] for s in d["items"] if s["name"] == "陶表印盲人按摩店")')
INSPECTION=$(post "$CHEN" /inspections '' \
  "{\"site_id\": \"$SITE\", \"template_code\": \"epidemic-2022\", \"inspector_ids\": [\"zhangming\"]}" \
  | json 'd["id"]')
echo "inspection $INSPECTION opened"
for ITEM in health-code itinerary-code nucleic-acid-proof temperature visitor-register \
            staff-tested-every-two-days; do
  post "$CHEN" "/inspections/$INSPECTION/items/$ITEM" "$(etag "$CHEN" "/inspections/$INSPECTION")" \
    '{"result": "pass"}' > /dev/null
done
post "$CHEN" "/inspections/$INSPECTION/items/mask" "$(etag "$CHEN" "/inspections/$INSPECTION")" \
  '{"result": "fail", "note": "按摩师口罩未遮住口鼻"}' > /dev/null

# --- 3. the failed item becomes a hazard: a case ------------------------------
CASE=$(post "$CHEN" "/inspections/$INSPECTION/hazards" "$(etag "$CHEN" "/inspections/$INSPECTION")" \
  '{"item_code": "mask", "category": "口罩佩戴", "severity": "general",
    "description": "按摩师口罩佩戴不规范，未遮住口鼻"}' | json 'd["id"]')
post "$CHEN" "/inspections/$INSPECTION/complete" "$(etag "$CHEN" "/inspections/$INSPECTION")" > /dev/null
echo "case $CASE: $(get "$CHEN" "/cases/$CASE" | json 'd["status"]')"

# --- 4. 陈小峰 orders it put right; the order names 陶表印's account -----------------
ORDER=$(post "$CHEN" "/cases/$CASE/orders" "$(etag "$CHEN" "/cases/$CASE")" \
  '{"party": {"name": "陶表印", "contact": "0791-8330 0001", "user_id": "taobiaoyin"},
    "measures": "按摩师全程规范佩戴口罩，店内备足口罩"}' | json 'd["id"]')
get "$TAO" "/orders/$ORDER" | json '"order", d["number"], "due", d["deadline"] + ":", d["status"]'

# --- 5. 陶表印 acknowledges it, then reports it done ------------------------------
post "$TAO" "/orders/$ORDER/acknowledge" "$(etag "$TAO" "/orders/$ORDER")" > /dev/null
post "$TAO" "/orders/$ORDER/completion-report" "$(etag "$TAO" "/orders/$ORDER")" \
  '{"note": "已为全体按摩师配发口罩并培训规范佩戴"}' > /dev/null
echo "case $CASE: $(get "$CHEN" "/cases/$CASE" | json 'd["status"]')"

# --- 6. 陈小峰 re-inspects (复查) and passes it ------------------------------------
post "$CHEN" "/cases/$CASE/verifications" "$(etag "$CHEN" "/cases/$CASE")" \
  '{"passed": true, "findings": "复查：按摩师均规范佩戴口罩"}' > /dev/null
echo "case $CASE: $(get "$CHEN" "/cases/$CASE" | json 'd["status"]')"

# --- 7. 张铭 closes the case (销号), signing with his password --------------------
post "$ZHANG" "/cases/$CASE/close" "$(etag "$ZHANG" "/cases/$CASE")" \
  '{"reason": "复查合格，准予销号", "password": "zhangming-demo"}' > /dev/null
echo "case $CASE: $(get "$ZHANG" "/cases/$CASE" | json 'd["status"]')"

# --- 8. the auditor reads the case's timeline: who did what, when -------------
AUDITOR=$(login auditor auditor-demo)          # 刘芳, auditor
get "$AUDITOR" "/audit/cases/$CASE/timeline" \
  | json '"\n".join(e["time"][:19] + "  " + e["sentence"]["zh"] for e in d["entries"])'
