#!/bin/sh
# The main job on embedded defaults, end to end on this machine:
#   1. build svdgw and svdhub; set up a gateway in out/demo from the example config with a fresh
#      linkage key; check the config;
#   2. process the shipped synthetic extract of each example feed offline (`svdgw process`, how a
#      partner tests an export before going live), showing the report summary and the first
#      pseudonymised records;
#   3. start a local force hub on 127.0.0.1 (scripts/local-hub.sh: a test PKI, mosquitto with
#      mutual TLS and the production ACL, svdhub); start the gateway daemon `svdgw run` with its
#      HTTPS upload API on a free loopback port; upload each extract with `svdgw submit` as the
#      partner's export job would (client certificates from the same test PKI); show the receipts,
#      each extract's status once the hub has answered every batch, /healthz, and what the hub
#      stored (`svdhub stats`); then stop the daemon;
#   4. the audit trail: the gateway's audit log is checked against its signed checkpoints and
#      against what the hub witnessed (`svdhub checkpoints export`, `svdgw audit verify`), and
#      the auditors' report is written (`svdgw audit report`: report.html and report.csv); the
#      hub is stopped (by the PIDs started here) and the force's report is written beside it
#      (`svdhub report`: who shared each scheduled feed, week by week, and the gateway's state).
# BUILD_DIR may be set (default: build).
set -eu
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
export BUILD_DIR  # scripts/local-hub.sh finds svdhub there
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$BUILD_DIR" -j "$(nproc)" --target svdgw svdhub
SVDGW="$BUILD_DIR/apps/svdgw/svdgw"
SVDHUB="$BUILD_DIR/apps/svdhub/svdhub"

DEMO=out/demo
HUB_DIR=$DEMO/hub
# A hub left running by an interrupted earlier demo would be orphaned by the rm below.
if [ -f "$HUB_DIR/mosquitto.pid" ] || [ -f "$HUB_DIR/svdhub.pid" ]; then
  sh scripts/local-hub.sh stop "$HUB_DIR" >/dev/null || true
fi
rm -rf "$DEMO"
mkdir -p "$DEMO"
cp -r deploy/examples/schemas "$DEMO"/
# The example keeps the outbox in /var/lib/svdgw; the demo keeps it in out/demo/state.
sed 's|^state_dir = .*|state_dir = "state"|' deploy/examples/svdgw.toml >"$DEMO/svdgw.toml"
grep -q '^state_dir = "state"$' "$DEMO/svdgw.toml" || {
  echo "demo: no state_dir line in deploy/examples/svdgw.toml to point at out/demo/state" >&2
  exit 1
}
PARTNER=$(sed -n 's/^partner *= *"\([a-z0-9-]*\)".*/\1/p' "$DEMO/svdgw.toml")
[ -n "$PARTNER" ] || { echo "demo: no partner id in $DEMO/svdgw.toml" >&2; exit 1; }

echo
echo "== a new linkage key (once per area; every partner installs the same one)"
"$SVDGW" keys generate --out "$DEMO/linkage.key"
echo
echo "== svdgw check-config"
"$SVDGW" check-config --config "$DEMO/svdgw.toml"

JOBS="death-reports:death-reports-sample.csv school-exclusions:school-exclusions-sample.csv ed-assaults:ed-assaults-sample.csv"

for job in $JOBS; do
  feed=${job%%:*} file=${job#*:}
  echo
  echo "== svdgw process --feed $feed $file"
  status=0
  "$SVDGW" process --config "$DEMO/svdgw.toml" --feed "$feed" "deploy/examples/extracts/$file" --out "$DEMO/$feed" || status=$?
  if [ "$status" -ne 0 ] && [ "$status" -ne 2 ]; then exit "$status"; fi
  if [ -f "$DEMO/$feed/records.jsonl" ]; then
    echo "  first records (exactly what would leave the site):"
    head -n 2 "$DEMO/$feed/records.jsonl" | sed 's/^/    /'
  fi
done
echo
echo "Offline outputs are in $DEMO/<feed>/ (records.jsonl, report.json)."

# ---- end to end: export job --HTTPS--> svdgw run --MQTT (mutual TLS)--> svdhub -------------------

DAEMON_PID=""
stop_all() {
  if [ -n "$DAEMON_PID" ] && kill -0 "$DAEMON_PID" 2>/dev/null; then
    kill -TERM "$DAEMON_PID" 2>/dev/null || true
    wait "$DAEMON_PID" 2>/dev/null || true
  fi
  sh scripts/local-hub.sh stop "$HUB_DIR" >/dev/null 2>&1 || true
}
trap stop_all EXIT
trap 'exit 130' INT TERM HUP

free_ports() {  # N: N distinct ports free a moment ago (all held open at once while picked)
  python3 -c 'import socket, sys
held = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in held: s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in held))' "$1"
}

echo
echo "== the gateway's device key, which signs its audit checkpoints (the hub is given the public half)"
"$SVDGW" keys generate-device --out "$DEMO/device.key"

echo
echo "== a local force hub on 127.0.0.1: test PKI, mosquitto (mutual TLS), svdhub"
# The hub expects the feeds when the gateway's config says they are due.
sh scripts/local-hub.sh start "$HUB_DIR" --gateway "$PARTNER" --device-key "$PARTNER=$DEMO/device.pub" \
  --schedule ed-assaults=month/5/09:00 --schedule death-reports=week/monday/09:00 \
  --schedule school-exclusions=week/friday/17:00
PORT=$(cat "$HUB_DIR/port")
# The same test CA issues the gateway's HTTPS server certificate and the partners' export-client
# certificates (their CNs are the example config's allowed_clients).
EXPORTERS="ed-assaults:northgate-ed-export death-reports:northgate-icb-export school-exclusions:northgate-council-export"
pki_args="--server localhost"
for e in $EXPORTERS; do pki_args="$pki_args --gateway ${e#*:}"; done
# shellcheck disable=SC2086
sh deploy/pki/make-pki.sh "$HUB_DIR/pki" $pki_args >"$DEMO/make-pki.log" 2>&1 || { cat "$DEMO/make-pki.log" >&2; exit 1; }
PORTS=$(free_ports 2)
HTTP_PORT=${PORTS% *}
OPS_PORT=${PORTS#* }

echo
echo "== the gateway's [hub], [http], [ops], [storage] and [audit] sections, added to $DEMO/svdgw.toml"
# Paths are relative to the config file. The MQTT client certificate's CN is the partner id.
cat >>"$DEMO/svdgw.toml" <<EOF

[hub]
host = "localhost"
port = $PORT
ca = "hub/pki/ca.crt"
cert = "hub/pki/clients/$PARTNER.crt"
key = "hub/pki/clients/$PARTNER.key"

[http]
listen = "127.0.0.1"
port = $HTTP_PORT
cert = "hub/pki/servers/localhost.crt"
key = "hub/pki/servers/localhost.key"
client_ca = "hub/pki/ca.crt"
crl = "hub/pki/crl.pem"

[ops]
listen = "127.0.0.1"
port = $OPS_PORT

[storage]
spool_scan_seconds = 5

[audit]
device_key = "device.key"
hub_witness_key = "hub/keys/hub-witness.pub"
checkpoint_events = 200
EOF
sed -n '/^\[hub\]/,$p' "$DEMO/svdgw.toml" | sed 's/^/  /'
"$SVDGW" check-config --config "$DEMO/svdgw.toml" >/dev/null
echo "  svdgw check-config: OK"

echo
echo "== svdgw run (log: $DEMO/svdgw-run.log)"
"$SVDGW" run --config "$DEMO/svdgw.toml" >"$DEMO/svdgw-run.log" 2>&1 &
DAEMON_PID=$!
tries=0
until grep -q "running as partner" "$DEMO/svdgw-run.log" 2>/dev/null; do
  kill -0 "$DAEMON_PID" 2>/dev/null || { cat "$DEMO/svdgw-run.log" >&2; echo "demo: svdgw run exited" >&2; exit 1; }
  tries=$((tries + 1))
  [ "$tries" -lt 150 ] || { cat "$DEMO/svdgw-run.log" >&2; echo "demo: svdgw run did not start" >&2; exit 1; }
  sleep 0.1
done
sed 's/^/  /' "$DEMO/svdgw-run.log"

PKI="$HUB_DIR/pki"
IDS=""
for job in $JOBS; do
  feed=${job%%:*} file=${job#*:}
  client=""
  for e in $EXPORTERS; do [ "${e%%:*}" = "$feed" ] && client=${e#*:}; done
  echo
  echo "== svdgw submit --feed $feed $file (as $client)"
  "$SVDGW" submit --url "https://localhost:$HTTP_PORT" --feed "$feed" --cert "$PKI/clients/$client.crt" \
    --key "$PKI/clients/$client.key" --ca "$PKI/ca.crt" "deploy/examples/extracts/$file" | tee "$DEMO/submit-$feed.log"
  id=$(grep -o "$feed-[0-9a-f]\{16\}" "$DEMO/submit-$feed.log" | head -n 1)
  [ -n "$id" ] || { echo "demo: no extract id in the receipt" >&2; exit 1; }
  IDS="$IDS $feed:$client:$id"
done

# Each extract's status, once it is processed (or refused) and every batch is answered by the hub.
for entry in $IDS; do
  rest=${entry#*:}
  client=${rest%%:*} id=${rest#*:}
  echo
  echo "== GET /v1/extracts/$id (as $client)"
  tries=0
  while :; do
    status=$(curl -sS --cert "$PKI/clients/$client.crt" --key "$PKI/clients/$client.key" --cacert "$PKI/ca.crt" \
      "https://localhost:$HTTP_PORT/v1/extracts/$id")
    if printf '%s' "$status" | python3 -c '
import json, sys
s = json.load(sys.stdin)
b = s["batches"]
done = s["state"] == "refused" or (s["state"] == "processed" and b["acknowledged"] + b["rejected"] == b["total"])
sys.exit(0 if done else 1)'; then break; fi
    tries=$((tries + 1))
    [ "$tries" -lt 300 ] || { echo "$status"; echo "demo: $id was not acknowledged in time" >&2; exit 1; }
    sleep 0.2
  done
  printf '%s' "$status" | python3 -c '
import json, sys
s = json.load(sys.stdin)
r, b = s.get("report") or {}, s["batches"]
rows = r.get("rows", {})
print("  state %s; rows %s total, %s valid, %s rejected; batches %s, acknowledged %s; records acknowledged %s"
      % (s["state"], rows.get("total"), rows.get("valid"), rows.get("rejected"), b["total"], b["acknowledged"],
         b["records_acknowledged"]))
if s["state"] == "refused":
    print("  refused as a whole:", r.get("refusal", {}).get("code"), "- nothing was sent")'
done

echo
echo "== GET /healthz on the local operations port"
curl -sS "http://127.0.0.1:$OPS_PORT/healthz"
echo

echo
echo "== svdhub stats: what the force hub stored"
"$SVDHUB" stats --config "$HUB_DIR/svdhub.toml"

echo
echo "== stopping svdgw run (SIGTERM): its last audit checkpoint goes to the hub on the way out"
kill -TERM "$DAEMON_PID"
wait "$DAEMON_PID" || { echo "demo: svdgw run did not stop cleanly" >&2; exit 1; }
DAEMON_PID=""

echo
echo "== svdhub checkpoints export: the audit checkpoints the hub witnessed for $PARTNER"
# The last checkpoint left with the daemon's final message: give the hub a moment to store it.
last=$(sqlite3 "$DEMO/state/audit.db" "SELECT max(seq) FROM checkpoints")
tries=0
while :; do
  "$SVDHUB" checkpoints export --config "$HUB_DIR/svdhub.toml" --partner "$PARTNER" --out "$DEMO/hub-checkpoints.jsonl"
  grep -q "\"seq\":$last[,}]" "$DEMO/hub-checkpoints.jsonl" && break
  tries=$((tries + 1))
  [ "$tries" -lt 50 ] || { echo "demo: the hub did not witness checkpoint $last" >&2; exit 1; }
  sleep 0.2
done
echo "  $(wc -l <"$DEMO/hub-checkpoints.jsonl") checkpoint(s), the last at seq $last"
sh scripts/local-hub.sh stop "$HUB_DIR"
trap - EXIT

echo
echo "== svdgw audit verify: the chain, the device key's signatures, the hub's cosignatures and its export"
"$SVDGW" audit verify --config "$DEMO/svdgw.toml" --hub-checkpoints "$DEMO/hub-checkpoints.jsonl"

echo
echo "== svdgw audit report: who shared what, per feed and week"
today=$(date -u +%Y-%m-%d)
"$SVDGW" audit report --config "$DEMO/svdgw.toml" --from "$today" --to "$today" --out "$DEMO/audit-report"
sed 's/^/  /' "$DEMO/audit-report/report.csv"
echo "  open $DEMO/audit-report/report.html in a browser (self-contained: no network needed)"

echo
echo "== svdhub report: the force's view of the last seven days, beside the gateway's audit report"
week_ago=$(date -u -d '6 days ago' +%Y-%m-%d)
"$SVDHUB" report --config "$HUB_DIR/svdhub.toml" --from "$week_ago" --to "$today" --out "$DEMO/hub-report"
sed 's/^/  /' "$DEMO/hub-report/sharing.csv"
sed 's/^/  /' "$DEMO/hub-report/gateways.csv"
echo "  open $DEMO/hub-report/index.html in a browser (self-contained: no network needed)"

echo
echo "Done. Gateway state: $DEMO/state/ (extracts.db, outbox.db, audit.db); hub store: $HUB_DIR/hub.db;"
echo "reports: $DEMO/audit-report/ (the gateway's) and $DEMO/hub-report/ (the force's);"
echo "logs: $DEMO/svdgw-run.log, $HUB_DIR/svdhub.log, $HUB_DIR/mosquitto.log."
