#!/bin/sh
# package-test.sh BUILD_DIR — the Debian package's life cycle, tested with dpkg on this machine:
# packages the (already built) BUILD_DIR twice with cpack (its version V and V+1), then
#   install V      files, modes, owners, system users, conffiles, stripped binaries, units verify;
#                  keys and certificates for the shipped config; check-config as the svdgw user;
#                  svdgw started the way its unit starts it (as svdgw, no capabilities, no new
#                  privileges, clean environment, NOTIFY_SOCKET): READY=1, WATCHDOG=1, /healthz,
#                  an extract dropped into its spool is processed into the outbox, audit log
#                  verifies; stopped by its PID (STOPPING=1, exit 0); svdhub likewise (READY=1);
#   upgrade to V+1 over V, with the admin's change to a conffile: the change and the state are
#                  kept, the restarted daemon still holds the outbox and a valid audit log;
#   remove         binaries gone, state and configuration kept;
#   purge          state, configuration, units and binaries gone;
# and scores the units (scripts/unit-security.sh). The keys are made the operator's way, with
# `svdgw provision`, and a test CA signs its requests. Needs root (dpkg); refuses to run where
# the package is already installed or its directories exist. Whatever happens, it stops what it started (by PID), purges the package
# and removes the users it created. Takes about a minute (two cpack runs are most of it).
# There is no systemd as PID 1 here (CI containers): the unit's sandboxing itself (ProtectSystem,
# the system call filter, ...) is not exercised, only its user, privileges and environment.
# Checks are written `[ a ] && [ b ] || fail ...`: fail exits, so it runs only when a check fails.
# shellcheck disable=SC2015
set -eu
LC_ALL=C
export LC_ALL
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PROG=package-test
START=$(date +%s)

say() { printf '%s\n' "== $*"; }
ok() { printf '%s\n' "   ok: $*"; }
fail() {
  printf '%s\n' "$PROG: FAILED: $*" >&2
  exit 1
}

[ "$#" -eq 1 ] || { echo "usage: $0 BUILD_DIR   (a configured and built tree: svdgw and svdhub)" >&2; exit 2; }
[ "$(id -u)" -eq 0 ] || { echo "$PROG: must run as root (it installs and purges the package with dpkg)" >&2; exit 2; }
BUILD=$(cd "$1" && pwd) || fail "no build directory $1"
[ -f "$BUILD/CPackConfig.cmake" ] || fail "$BUILD/CPackConfig.cmake missing: configure the build first (cmake -S . -B $1)"
for tool in dpkg dpkg-deb dpkg-query cpack setpriv curl openssl readelf systemd-analyze; do
  command -v "$tool" >/dev/null 2>&1 || fail "needs $tool"
done
PYTHON=/usr/bin/python3
[ -x "$PYTHON" ] || PYTHON=$(command -v python3) || fail "needs python3"

if dpkg-query -W -f='${Status}' svd-gateway 2>/dev/null | grep -q 'installed\|config-files'; then
  fail "svd-gateway is already installed here; this test installs and purges it (dpkg --purge svd-gateway first)"
fi
for d in /etc/svdgw /etc/svdhub /var/lib/svdgw /var/lib/svdhub; do
  [ ! -e "$d" ] || fail "$d exists: this test would delete it; move it away first"
done
USERS_BEFORE=""
for u in svdgw svdhub; do
  if getent passwd "$u" >/dev/null; then USERS_BEFORE="$USERS_BEFORE $u"; fi
done

WORK=$(mktemp -d /tmp/svd-package-test.XXXXXX)
chmod 0711 "$WORK"  # the daemons, as their users, reach the notify socket in here
DAEMON_PID=""
LISTENER_PID=""

cleanup() {
  status=$?
  set +e
  if [ -n "$DAEMON_PID" ]; then kill -KILL "$DAEMON_PID" 2>/dev/null; wait "$DAEMON_PID" 2>/dev/null; fi
  if [ -n "$LISTENER_PID" ]; then kill "$LISTENER_PID" 2>/dev/null; wait "$LISTENER_PID" 2>/dev/null; fi
  if dpkg-query -W -f='${Status}' svd-gateway 2>/dev/null | grep -q 'installed\|config-files\|half'; then
    echo "$PROG: purging svd-gateway" >&2
    dpkg --purge svd-gateway >/dev/null 2>&1 || echo "$PROG: dpkg --purge failed; clean up by hand" >&2
  fi
  for u in svdgw svdhub; do
    case " $USERS_BEFORE " in *" $u "*) continue ;; esac
    if getent passwd "$u" >/dev/null; then userdel "$u" 2>/dev/null; fi
    if getent group "$u" >/dev/null; then groupdel "$u" 2>/dev/null; fi
  done
  if [ "$status" -ne 0 ] && [ -f "$WORK/daemon.log" ]; then
    echo "---- last daemon log ($WORK/daemon.log) ----" >&2
    tail -n 30 "$WORK/daemon.log" >&2
  fi
  rm -rf "$WORK"
  if [ "$status" -eq 0 ]; then echo "package test passed in $(($(date +%s) - START)) s"; fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# ---- the two packages -----------------------------------------------------------------------
V1=$(sed -n 's/^set(CPACK_PACKAGE_VERSION "\(.*\)")$/\1/p' "$BUILD/CPackConfig.cmake")
[ -n "$V1" ] || fail "no CPACK_PACKAGE_VERSION in $BUILD/CPackConfig.cmake"
V2=$(echo "$V1" | awk -F. '{ $NF = $NF + 1; print }' OFS=.)
say "packaging $BUILD as $V1 and $V2 (cpack -D CPACK_PACKAGE_VERSION)"
# In parallel: each run installs into its own -B directory.
(cpack --config "$BUILD/CPackConfig.cmake" -G DEB -B "$WORK/v1" -D CPACK_PACKAGE_VERSION="$V1" >"$WORK/cpack1.log" 2>&1) &
P1=$!
(cpack --config "$BUILD/CPackConfig.cmake" -G DEB -B "$WORK/v2" -D CPACK_PACKAGE_VERSION="$V2" >"$WORK/cpack2.log" 2>&1) &
P2=$!
wait "$P1" || { cat "$WORK/cpack1.log" >&2; fail "cpack (version $V1)"; }
wait "$P2" || { cat "$WORK/cpack2.log" >&2; fail "cpack (version $V2)"; }
DEB1=$(ls "$WORK"/v1/svd-gateway_"$V1"_*.deb) || fail "no .deb for $V1"
DEB2=$(ls "$WORK"/v2/svd-gateway_"$V2"_*.deb) || fail "no .deb for $V2"
ok "$(basename "$DEB1") ($(($(stat -c %s "$DEB1") / 1024)) KiB), $(basename "$DEB2")"
[ "$(dpkg-deb -f "$DEB2" Version)" = "$V2" ] || fail "$DEB2 says version $(dpkg-deb -f "$DEB2" Version)"
if dpkg-deb --fsys-tarfile "$DEB1" | tar -tvf - | awk '$2 != "root/root"' | grep .; then
  fail "files above are not owned by root in the package"
fi
ok "every file in the package is owned by root"

# ---- install --------------------------------------------------------------------------------
say "dpkg -i $(basename "$DEB1")"
dpkg -i "$DEB1" </dev/null >"$WORK/dpkg.log" 2>&1 || { cat "$WORK/dpkg.log" >&2; fail "dpkg -i $DEB1"; }
[ "$(dpkg-query -W -f='${Status} ${Version}' svd-gateway)" = "install ok installed $V1" ] || fail "not installed as $V1"
ok "installed $V1"

# expect_stat PATH "MODE OWNER GROUP"
expect_stat() {
  [ -e "$1" ] || fail "$1 is missing"
  got=$(stat -c '%a %U %G' "$1")
  [ "$got" = "$2" ] || fail "$1: mode/owner $got, expected $2"
}
check_layout() {
  expect_stat /usr/bin/svdgw "755 root root"
  expect_stat /usr/bin/svdhub "755 root root"
  expect_stat /lib/systemd/system/svdgw.service "644 root root"
  expect_stat /lib/systemd/system/svdhub.service "644 root root"
  expect_stat /usr/lib/sysusers.d/svd-gateway.conf "644 root root"
  expect_stat /usr/lib/tmpfiles.d/svd-gateway.conf "644 root root"
  expect_stat /etc/svdgw "750 root svdgw"
  expect_stat /etc/svdgw/svdgw.toml "644 root root"
  expect_stat /etc/svdhub "750 root svdhub"
  expect_stat /etc/svdhub/svdhub.toml "644 root root"
  expect_stat /var/lib/svdgw "700 svdgw svdgw"
  expect_stat /var/lib/svdgw/spool "700 svdgw svdgw"
  expect_stat /var/lib/svdhub "700 svdhub svdhub"
  expect_stat /var/lib/svdgw-audit "2750 svdgw svdaudit"
  expect_stat /lib/systemd/system/svdgw-audit-snapshot.timer "644 root root"
  for f in /etc/svdgw/schemas /etc/svdhub/schemas; do
    [ -n "$(ls "$f"/*.json 2>/dev/null)" ] || fail "no schemas in $f"
  done
}
check_layout
[ -f /usr/share/doc/svd-gateway/README.md ] && [ -f /usr/share/doc/svd-gateway/docs/daemon.md ] &&
  [ -f /usr/share/doc/svd-gateway/copyright ] && [ -f /usr/share/doc/svd-gateway/CHANGELOG.md ] &&
  [ -f /usr/share/doc/svd-gateway/SECURITY.md ] &&
  [ -f /usr/share/doc/svd-gateway/examples/svdgw.toml ] &&
  grep -q "What leaves the site" /usr/share/doc/svd-gateway/examples/disclosure.html || fail "documentation missing from /usr/share/doc/svd-gateway"
ok "files, modes and owners (/etc/svdgw 0750 root:svdgw, /var/lib/svdgw{,/spool} 0700 svdgw, ...)"

for bin in /usr/bin/svdgw /usr/bin/svdhub; do
  if readelf -S "$bin" | grep -q -e '\.symtab' -e '\.debug_'; then fail "$bin is not stripped"; fi
done
/usr/bin/svdgw --version >/dev/null && /usr/bin/svdhub --version >/dev/null || fail "the binaries do not run"
ok "binaries stripped and running"

for u in svdgw svdhub; do
  entry=$(getent passwd "$u") || fail "no system user $u"
  uid=$(echo "$entry" | cut -d: -f3)
  home=$(echo "$entry" | cut -d: -f6)
  shell=$(echo "$entry" | cut -d: -f7)
  [ "$uid" -lt 1000 ] || fail "$u has uid $uid: not a system user"
  [ "$home" = "/var/lib/$u" ] || fail "$u's home is $home"
  case $shell in */nologin | /bin/false) ;; *) fail "$u has a login shell ($shell)" ;; esac
  getent group "$u" >/dev/null || fail "no group $u"
done
ok "system users svdgw and svdhub (no login)"

CONFFILES=$(dpkg-query -W --showformat='${Conffiles}\n' svd-gateway)
for f in /etc/svdgw/svdgw.toml /etc/svdhub/svdhub.toml /etc/svdgw/schemas/ed-assaults.json \
  /etc/svdgw/schemas/death-reports.json /etc/svdgw/schemas/school-exclusions.json /etc/svdhub/schemas/ed-assaults.json; do
  echo "$CONFFILES" | grep -q "^ $f " || fail "$f is not a conffile (dpkg-query \${Conffiles}: $CONFFILES)"
done
ok "configuration files are conffiles"

getent group svdaudit >/dev/null || fail "no group svdaudit"
systemd-analyze verify /lib/systemd/system/svdgw.service /lib/systemd/system/svdhub.service \
  /lib/systemd/system/svdgw-audit-snapshot.service /lib/systemd/system/svdgw-audit-snapshot.timer >"$WORK/verify.log" 2>&1 ||
  { cat "$WORK/verify.log" >&2; fail "systemd-analyze verify"; }
ok "systemd-analyze verify: the units and the audit snapshot's timer"

# ---- keys and certificates --------------------------------------------------------------------
say "keys and certificates for the shipped config (svdgw provision)"
"$ROOT/deploy/pki/make-pki.sh" "$WORK/pki" >"$WORK/pki.log" 2>&1 || { cat "$WORK/pki.log" >&2; fail "make-pki.sh"; }
install -m 0644 "$WORK/pki/ca.crt" /etc/svdgw/hub-ca.crt
install -m 0644 "$WORK/pki/ca.crt" /etc/svdgw/export-clients-ca.crt

# sign_csr CSR CERT EXTENDED_KEY_USAGE [SUBJECT_ALT_NAME]: the test CA signs a request.
sign_csr() {
  {
    echo "[ leaf ]"
    echo "basicConstraints = critical, CA:false"
    echo "keyUsage = critical, digitalSignature"
    echo "extendedKeyUsage = $3"
    if [ -n "${4:-}" ]; then echo "subjectAltName = $4"; fi
  } >"$WORK/leaf.ext"
  openssl x509 -req -in "$1" -CA "$WORK/pki/ca.crt" -CAkey "$WORK/pki/ca.key" -set_serial "0x$(openssl rand -hex 8)" \
    -days 30 -sha256 -extfile "$WORK/leaf.ext" -extensions leaf -out "$2" 2>"$WORK/openssl.log" ||
    { cat "$WORK/openssl.log" >&2; fail "the test CA cannot sign $1"; }
  chmod 0644 "$2"
}

# What an operator does (the README's steps): svdgw provision makes the keys and the requests and
# installs the area's linkage key; the CAs sign the requests; provision again checks the result.
keys_by_provision() {
  /usr/bin/svdgw keys generate --out "$WORK/area.key" >/dev/null || fail "svdgw keys generate"
  /usr/bin/svdgw provision --config /etc/svdgw/svdgw.toml --linkage-key "$WORK/area.key" \
    --server-name gateway.test >"$WORK/provision.log" 2>&1 || { cat "$WORK/provision.log" >&2; fail "svdgw provision"; }
  sign_csr /etc/svdgw/hub-client.csr /etc/svdgw/hub-client.crt clientAuth
  sign_csr /etc/svdgw/upload-server.csr /etc/svdgw/upload-server.crt serverAuth "DNS:gateway.test"
  /usr/bin/svdgw provision --config /etc/svdgw/svdgw.toml >"$WORK/provision.log" 2>&1 ||
    { cat "$WORK/provision.log" >&2; fail "svdgw provision (with the certificates in place)"; }
}

keys_by_provision
for k in linkage.key device.key hub-client.key upload-server.key; do expect_stat "/etc/svdgw/$k" "600 svdgw svdgw"; done
ok "keys in /etc/svdgw (0600 svdgw)"

# as_user USER COMMAND...: what the unit does to the daemon, short of the namespaces: its user and
# group, no capabilities (CapabilityBoundingSet=), NoNewPrivileges=, UMask=0077, systemd's clean
# environment; NOTIFY_SOCKET and WATCHDOG_USEC as systemd sets them when $NOTIFY and
# $WATCHDOG_USEC are set. It execs: call it in a subshell, ( ... ) or &.
as_user() {
  u=$1
  shift
  umask 077
  cd /
  if [ -n "${WATCHDOG_USEC:-}" ]; then set -- WATCHDOG_USEC="$WATCHDOG_USEC" "$@"; fi
  if [ -n "${NOTIFY:-}" ]; then set -- NOTIFY_SOCKET="$NOTIFY" "$@"; fi
  set -- env -i PATH=/usr/bin:/bin LANG=C.UTF-8 "$@"
  exec setpriv --reuid="$u" --regid="$u" --init-groups --no-new-privs --inh-caps=-all --bounding-set=-all "$@"
}

(as_user svdgw /usr/bin/svdgw check-config --config /etc/svdgw/svdgw.toml) >"$WORK/check.log" 2>&1 ||
  { cat "$WORK/check.log" >&2; fail "svdgw check-config as the svdgw user"; }
ok "svdgw check-config (as svdgw): $(head -n 1 "$WORK/check.log")"
(as_user svdhub /usr/bin/svdhub check-config --config /etc/svdhub/svdhub.toml) >"$WORK/check.log" 2>&1 ||
  { cat "$WORK/check.log" >&2; fail "svdhub check-config as the svdhub user"; }
ok "svdhub check-config (as svdhub)"

# ---- the daemons, as their units start them ----------------------------------------------------
# A datagram socket like systemd's notify socket; every message is appended to a file, one line each.
start_listener() {
  rm -f "$WORK/notify.sock" "$WORK/notify.log"
  "$PYTHON" - "$WORK/notify.sock" "$WORK/notify.log" <<'EOF' &
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
os.chmod(sys.argv[1], 0o666)
with open(sys.argv[2], "a", buffering=1) as log:
    log.write("LISTENING\n")
    while True:
        log.write(s.recv(4096).decode(errors="replace").replace("\n", " ") + "\n")
EOF
  LISTENER_PID=$!
  wait_for "the notify socket" 10 grep -q LISTENING "$WORK/notify.log"
}
stop_listener() {
  kill "$LISTENER_PID" 2>/dev/null || true
  wait "$LISTENER_PID" 2>/dev/null || true
  LISTENER_PID=""
}

# Whether a child is still running (an exited one stays a zombie until waited for).
running() {
  [ -r "/proc/$1/stat" ] && [ "$(sed 's/.*) \(.\).*/\1/' "/proc/$1/stat")" != Z ]
}

# wait_for WHAT SECONDS COMMAND...: until COMMAND succeeds, or fail.
wait_for() {
  what=$1 secs=$2
  shift 2
  end=$(($(date +%s) + secs))
  until "$@" >/dev/null 2>&1; do
    [ "$(date +%s)" -lt "$end" ] || fail "no $what within $secs s"
    if [ -n "$DAEMON_PID" ] && ! running "$DAEMON_PID"; then fail "the daemon exited while waiting for $what"; fi
    sleep 0.2
  done
}

metric() {  # the value of a /metrics line starting with $1
  curl -fsS --max-time 5 http://127.0.0.1:9464/metrics | awk -v m="$1" 'index($0, m " ") == 1 { print $2 }'
}

# start_daemon USER COMMAND...: in the background, stderr+stdout to $WORK/daemon.log.
start_daemon() {
  start_listener
  u=$1
  shift
  NOTIFY="$WORK/notify.sock" WATCHDOG_USEC=2000000 as_user "$u" "$@" >"$WORK/daemon.log" 2>&1 &
  DAEMON_PID=$!
  wait_for "READY=1 from $1" 30 grep -q '^READY=1' "$WORK/notify.log"
}

# stop_daemon: SIGTERM to its PID; STOPPING=1, exit status 0.
stop_daemon() {
  kill -TERM "$DAEMON_PID"
  rc=0
  wait "$DAEMON_PID" || rc=$?
  DAEMON_PID=""
  [ "$rc" -eq 0 ] || fail "the daemon exited with status $rc after SIGTERM"
  wait_for "STOPPING=1" 5 grep -q '^STOPPING=1' "$WORK/notify.log"
  stop_listener
}

for port in 8443 9464; do
  if "$PYTHON" -c 'import socket, sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 2)' "$port" 2>/dev/null; then
    fail "port $port is in use: the shipped config needs it"
  fi
done

say "svdgw run as svdgw (version $V1)"
start_daemon svdgw /usr/bin/svdgw run --config /etc/svdgw/svdgw.toml
ok "READY=1"
wait_for "WATCHDOG=1" 10 grep -q '^WATCHDOG=1' "$WORK/notify.log"
ok "WATCHDOG=1"
curl -fsS --max-time 5 http://127.0.0.1:9464/healthz >"$WORK/healthz.json" || fail "GET /healthz"
ok "/healthz: $(head -c 120 "$WORK/healthz.json")"

# An export job's drop: written as NAME.part, renamed to NAME (the spool's contract).
SAMPLE="$ROOT/deploy/examples/extracts/ed-assaults-sample.csv"
SPOOL=/var/lib/svdgw/spool/ed-assaults
[ -d "$SPOOL" ] || fail "the daemon did not create $SPOOL"
install -o svdgw -g svdgw -m 0600 "$SAMPLE" "$SPOOL/ed-assaults-2026-11.csv.part"
mv "$SPOOL/ed-assaults-2026-11.csv.part" "$SPOOL/ed-assaults-2026-11.csv"
processed() { [ "$(metric 'svdgw_extracts_total{feed="ed-assaults",outcome="processed"}')" = 1 ]; }
wait_for "processed extract (svdgw_extracts_total)" 60 processed
queued() { n=$(metric svdgw_outbox_records) && [ -n "$n" ] && [ "$n" -gt 0 ]; }
wait_for "records in the outbox (svdgw_outbox_records)" 30 queued
OUTBOX_RECORDS=$(metric svdgw_outbox_records)
OUTBOX_BATCHES=$(metric svdgw_outbox_batches)
[ ! -e "$SPOOL/ed-assaults-2026-11.csv" ] || fail "the extract is still in the spool"
ok "spool extract processed: $OUTBOX_BATCHES batch(es), $OUTBOX_RECORDS records in the outbox (the hub is not reachable)"
stop_daemon
ok "SIGTERM: STOPPING=1, exit 0"
ls /var/lib/svdgw/*.db >/dev/null 2>&1 || fail "no databases in /var/lib/svdgw"
if find /var/lib/svdgw \( -perm -g=r -o -perm -o=r \) | grep .; then
  fail "files above, in the state directory, are readable by others than svdgw"
fi
(as_user svdgw /usr/bin/svdgw audit verify --config /etc/svdgw/svdgw.toml) >"$WORK/audit.log" 2>&1 ||
  { cat "$WORK/audit.log" >&2; fail "svdgw audit verify"; }
ok "state in /var/lib/svdgw (owner only), audit log verifies"

# What svdgw-audit-snapshot.service runs, as it runs it; then an auditor, in the svdaudit group
# only, reads the copy, and neither the live log nor, without the group, the copy.
(as_user svdgw /usr/bin/svdgw audit snapshot --config /etc/svdgw/svdgw.toml --out /var/lib/svdgw-audit/audit.db) \
  >"$WORK/snapshot.log" 2>&1 || { cat "$WORK/snapshot.log" >&2; fail "svdgw audit snapshot"; }
expect_stat /var/lib/svdgw-audit/audit.db "640 svdgw svdaudit"
AUDITOR="setpriv --reuid=nobody --regid=svdaudit --clear-groups --no-new-privs"
(cd / && $AUDITOR /usr/bin/svdgw audit export --log /var/lib/svdgw-audit/audit.db --from 2000-01-01 --to 2099-12-31 \
  --format csv) >"$WORK/export.csv" 2>"$WORK/export.err" || { cat "$WORK/export.err" >&2; fail "an auditor cannot export"; }
grep -q "gateway.started" "$WORK/export.csv" || fail "the auditor's export lacks the gateway's events"
(cd / && $AUDITOR /usr/bin/svdgw audit export --log /var/lib/svdgw/audit.db --from 2000-01-01 --to 2099-12-31 \
  --format csv) >/dev/null 2>&1 && fail "an auditor read the live state directory"
(cd / && setpriv --reuid=nobody --regid=nogroup --clear-groups /usr/bin/svdgw audit export \
  --log /var/lib/svdgw-audit/audit.db --from 2000-01-01 --to 2099-12-31 --format csv) >/dev/null 2>&1 &&
  fail "a user outside svdaudit read the audit copy"
ok "audit snapshot 0640 svdgw:svdaudit; the svdaudit group reads it, and nothing else"

say "svdhub run as svdhub (version $V1)"
start_daemon svdhub /usr/bin/svdhub run --config /etc/svdhub/svdhub.toml
ok "READY=1 (its broker is not reachable: it keeps reconnecting)"
wait_for "WATCHDOG=1" 10 grep -q '^WATCHDOG=1' "$WORK/notify.log"
stop_daemon
expect_stat /var/lib/svdhub/hub.db "600 svdhub svdhub"
ok "WATCHDOG=1, then STOPPING=1 and exit 0; /var/lib/svdhub/hub.db created"

# ---- upgrade ------------------------------------------------------------------------------------
say "upgrade to $V2 with a changed conffile"
echo "# changed by the administrator ($PROG $$)" >>/etc/svdgw/svdgw.toml
dpkg -i "$DEB2" </dev/null >"$WORK/dpkg.log" 2>&1 || { cat "$WORK/dpkg.log" >&2; fail "dpkg -i $DEB2"; }
[ "$(dpkg-query -W -f='${Status} ${Version}' svd-gateway)" = "install ok installed $V2" ] || fail "not upgraded to $V2"
grep -q "changed by the administrator ($PROG $$)" /etc/svdgw/svdgw.toml || fail "the upgrade overwrote the changed conffile"
[ ! -e /etc/svdgw/svdgw.toml.dpkg-new ] && [ ! -e /etc/svdgw/svdgw.toml.dpkg-dist ] || fail "dpkg left a .dpkg-new/.dpkg-dist"
check_layout
for k in linkage.key device.key hub-client.key upload-server.key; do expect_stat "/etc/svdgw/$k" "600 svdgw svdgw"; done
ok "upgraded; the changed conffile, the keys, modes and owners kept"

start_daemon svdgw /usr/bin/svdgw run --config /etc/svdgw/svdgw.toml
same_outbox() { [ "$(metric svdgw_outbox_records)" = "$OUTBOX_RECORDS" ]; }
wait_for "the same outbox after the upgrade ($OUTBOX_RECORDS records)" 30 same_outbox
stop_daemon
(as_user svdgw /usr/bin/svdgw audit verify --config /etc/svdgw/svdgw.toml) >"$WORK/audit.log" 2>&1 ||
  { cat "$WORK/audit.log" >&2; fail "svdgw audit verify after the upgrade"; }
ok "state kept: $V2 starts with the same $OUTBOX_RECORDS records in its outbox; audit log verifies"

# ---- remove, then purge ---------------------------------------------------------------------------
say "dpkg --remove"
dpkg --remove svd-gateway </dev/null >"$WORK/dpkg.log" 2>&1 || { cat "$WORK/dpkg.log" >&2; fail "dpkg --remove"; }
[ ! -e /usr/bin/svdgw ] && [ ! -e /usr/bin/svdhub ] && [ ! -e /lib/systemd/system/svdgw.service ] ||
  fail "remove left binaries or units"
[ -f /etc/svdgw/svdgw.toml ] && [ -f /etc/svdgw/linkage.key ] && [ -f /var/lib/svdhub/hub.db ] &&
  ls /var/lib/svdgw/*.db >/dev/null 2>&1 || fail "remove deleted state or configuration"
ok "binaries and units gone; configuration, keys and state kept"

say "dpkg --purge"
dpkg --purge svd-gateway </dev/null >"$WORK/dpkg.log" 2>&1 || { cat "$WORK/dpkg.log" >&2; fail "dpkg --purge"; }
dpkg-query -W -f='${Status}' svd-gateway 2>/dev/null | grep -q 'installed\|config-files' && fail "still known to dpkg"
for p in /etc/svdgw /etc/svdhub /var/lib/svdgw /var/lib/svdhub /usr/bin/svdgw /usr/bin/svdhub \
  /lib/systemd/system/svdgw.service /usr/lib/tmpfiles.d/svd-gateway.conf /usr/lib/sysusers.d/svd-gateway.conf \
  /var/lib/svdgw-audit /usr/share/doc/svd-gateway; do
  [ ! -e "$p" ] || fail "purge left $p"
done
ok "state, configuration, keys, units and binaries gone"

say "unit security (systemd-analyze security --offline=yes)"
"$ROOT/scripts/unit-security.sh" || fail "a unit's exposure is above the limit"
