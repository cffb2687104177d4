#!/bin/sh
# testssl_check.sh HOST:PORT [JSON_REPORT]
# Runs testssl.sh (Debian's package installs it as `testssl`) against a TLS endpoint: protocols,
# cipher categories, forward secrecy and the known vulnerabilities. Exits 0 only when testssl ran
# (its report names the protocols it saw) and reported no finding of MEDIUM severity or worse;
# otherwise prints those findings and exits 1. Local endpoints only: it never looks up a name.
set -eu
[ "$#" -ge 1 ] || { echo "usage: $0 HOST:PORT [JSON_REPORT]" >&2; exit 2; }
TARGET=$1
REPORT=${2:-$(mktemp -d)/testssl.json}
TESTSSL=$(command -v testssl || command -v testssl.sh || true)
[ -n "$TESTSSL" ] || { echo "testssl_check: testssl is not installed (apt-get install testssl.sh)" >&2; exit 1; }
rm -f "$REPORT"
# -p protocols, -s cipher categories, -f forward secrecy, -U vulnerabilities. Its exit status
# counts findings of any severity, so the JSON report decides.
"$TESTSSL" --quiet --warnings batch --color 0 -p -s -f -U --ip one --nodns min --jsonfile "$REPORT" "$TARGET" || true
[ -s "$REPORT" ] || { echo "testssl_check: testssl wrote no report" >&2; exit 1; }
python3 - "$REPORT" <<'PY'
import json, sys
findings = json.load(open(sys.argv[1]))
ids = {f.get("id") for f in findings}
if not ({"TLS1_2", "TLS1_3"} & ids):
    print("testssl_check: the report has no protocol results; testssl did not reach the endpoint")
    for f in findings:
        print("  ", f.get("id"), f.get("severity"), f.get("finding"))
    sys.exit(1)
bad = [f for f in findings if f.get("severity") in ("MEDIUM", "HIGH", "CRITICAL")]
offered = [f["id"] for f in findings if f.get("id", "").startswith(("SSLv", "TLS1")) and "not offered" not in f.get("finding", "")]
print("testssl_check: %d results; protocols offered: %s" % (len(findings), ", ".join(offered) or "none"))
for f in bad:
    print("  %s %s: %s" % (f.get("severity"), f.get("id"), f.get("finding")))
sys.exit(1 if bad else 0)
PY
