#!/bin/sh
# The main job on embedded defaults: build svdgw, set up a gateway in out/demo from the example
# config with a fresh linkage key, check the config, then process the shipped synthetic extract
# of each example feed, showing the report summary and the first pseudonymised records.
set -eu
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$BUILD_DIR" -j "$(nproc)" --target svdgw
SVDGW="$BUILD_DIR/gateway/svdgw"

DEMO=out/demo
rm -rf "$DEMO"
mkdir -p "$DEMO"
cp -r deploy/examples/svdgw.toml deploy/examples/schemas "$DEMO"/
echo
echo "== a new linkage key (once per area; every partner installs the same one)"
"$SVDGW" keys generate --out "$DEMO/linkage.key"
echo
echo "== svdgw check-config"
"$SVDGW" check-config --config "$DEMO/svdgw.toml"

for job in "death-reports death-reports-sample.csv" \
           "school-exclusions school-exclusions-sample.csv" \
           "ed-assaults ed-assaults-sample.csv"; do
  set -- $job
  echo
  echo "== svdgw process --feed $1 $2"
  status=0
  "$SVDGW" process --config "$DEMO/svdgw.toml" --feed "$1" "deploy/examples/extracts/$2" --out "$DEMO/$1" || status=$?
  if [ "$status" -ne 0 ] && [ "$status" -ne 2 ]; then exit "$status"; fi
  if [ -f "$DEMO/$1/records.jsonl" ]; then
    echo "  first records (exactly what would leave the site):"
    head -n 2 "$DEMO/$1/records.jsonl" | sed 's/^/    /'
  fi
done
echo
echo "Outputs are in $DEMO/<feed>/ (records.jsonl, report.json)."
