#!/bin/sh
# The main job on embedded defaults, end to end on this machine:
#   1. build svdgw and svdhub; set up a gateway in out/demo from the example config with a fresh
#      linkage key; check the config;
#   2. process the shipped synthetic extract of each example feed offline, showing the report
#      summary and the first pseudonymised records;
#   3. start a local force hub on 127.0.0.1 (scripts/local-hub.sh: a test PKI, mosquitto with
#      mutual TLS and the production ACL, svdhub), point the gateway at it, `svdgw forward` each
#      extract and show what the hub stored (`svdhub stats`); then stop the hub.
# BUILD_DIR may be set (default: build).
set -eu
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
export BUILD_DIR  # scripts/local-hub.sh finds svdhub there
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$BUILD_DIR" -j "$(nproc)" --target svdgw svdhub
SVDGW="$BUILD_DIR/gateway/svdgw"
SVDHUB="$BUILD_DIR/hub/svdhub"

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

# ---- end to end: gateway → mosquitto (mutual TLS) → svdhub --------------------------------------

stop_hub() {
  sh scripts/local-hub.sh stop "$HUB_DIR" >/dev/null 2>&1 || true
}
trap stop_hub EXIT
trap 'exit 130' INT TERM HUP

echo
echo "== a local force hub on 127.0.0.1: test PKI, mosquitto (mutual TLS), svdhub"
sh scripts/local-hub.sh start "$HUB_DIR" --gateway "$PARTNER"
PORT=$(cat "$HUB_DIR/port")

echo
echo "== the gateway's [hub] section, added to $DEMO/svdgw.toml"
# Paths are relative to the config file. The certificate's CN is the partner id.
cat >>"$DEMO/svdgw.toml" <<EOF

[hub]
host = "localhost"
port = $PORT
ca = "hub/pki/ca.crt"
cert = "hub/pki/clients/$PARTNER.crt"
key = "hub/pki/clients/$PARTNER.key"
EOF
sed -n '/^\[hub\]/,$p' "$DEMO/svdgw.toml" | sed 's/^/  /'
"$SVDGW" check-config --config "$DEMO/svdgw.toml" >/dev/null
echo "  svdgw check-config: OK"

for job in $JOBS; do
  feed=${job%%:*} file=${job#*:}
  echo
  echo "== svdgw forward --feed $feed $file"
  status=0
  "$SVDGW" forward --config "$DEMO/svdgw.toml" --feed "$feed" --timeout 60 "deploy/examples/extracts/$file" \
    >"$DEMO/forward-$feed.log" 2>&1 || status=$?
  case $status in
    0 | 2)
      # The per-field rejection counts were shown by `svdgw process` above; the rest as it came.
      grep -v '^    ' "$DEMO/forward-$feed.log" || true
      if [ "$status" -eq 2 ]; then echo "  refused as a whole: nothing was sent (the report says why)"; fi ;;
    *)
      cat "$DEMO/forward-$feed.log"
      echo "demo: svdgw forward failed (exit code $status); hub logs: $HUB_DIR/svdhub.log, $HUB_DIR/mosquitto.log" >&2
      exit "$status" ;;
  esac
done

echo
echo "== svdhub stats: what the force hub stored"
"$SVDHUB" stats --config "$HUB_DIR/svdhub.toml"

echo
echo "== stopping the local hub"
sh scripts/local-hub.sh stop "$HUB_DIR"
trap - EXIT
echo
echo "Done. Gateway outbox: $DEMO/state/outbox.db; hub store: $HUB_DIR/hub.db;"
echo "logs: $DEMO/forward-<feed>.log, $HUB_DIR/svdhub.log, $HUB_DIR/mosquitto.log."
