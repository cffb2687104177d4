#!/bin/sh
# local-hub.sh — a complete force hub on 127.0.0.1 for demos and benchmarks: a test PKI, mosquitto
# with the production broker config and ACL (deploy/mosquitto/), and `svdhub run` storing into
# DIR/hub.db. Not for production: the PKI is make-pki.sh's test PKI, with the CA key beside it.
#
#   scripts/local-hub.sh start DIR [--gateway ID]... [--device-key ID=PUBLIC_KEY]... [--feed ID=SCHEMA]...
#                                  [--schedule FEED=EVERY/DAY/HH:MM]... [--extra-acl FILE]
#
# --schedule gives every partner the same schedule for FEED ([partner.schedule] in svdhub.toml),
# e.g. death-reports=week/monday/09:00 or ed-assaults=month/5/09:00.
#   scripts/local-hub.sh reset-store DIR     stop svdhub, delete DIR/hub.db, start svdhub again
#   scripts/local-hub.sh status DIR
#   scripts/local-hub.sh stop DIR
#
# DIR afterwards holds: pki/ (ca.crt, clients/ID.crt|key for each gateway and for svdhub),
# mosquitto.conf, acl, data/, mosquitto.log, svdhub.toml, svdhub.log, hub.db, port,
# mosquitto.pid, svdhub.pid, and keys/hub-witness.key|pub: the hub's Ed25519 witness key, with
# which svdhub cosigns the audit checkpoints of each gateway whose device key is given. Gateways connect to host "localhost", port `cat DIR/port`.
#
# Environment: BUILD_DIR (default: build, relative to the repository root like scripts/demo.sh),
# SVDHUB (default: $BUILD_DIR/apps/svdhub/svdhub), MOSQUITTO (default: mosquitto from PATH or /usr/sbin),
# LOCAL_HUB_EXTRA_ACL (same as --extra-acl).
#
# `stop` signals exactly the PIDs recorded in DIR, and only after checking that each is still the
# process this script started (its command line names DIR's config file); never by name.
set -eu
LC_ALL=C
export LC_ALL

PROG=local-hub.sh
ROOT=$(cd "$(dirname "$0")/.." && pwd)
START_WAIT=15   # seconds for mosquitto to listen and for svdhub to subscribe
STOP_WAIT=10    # seconds between SIGTERM and SIGKILL

die() {
  echo "$PROG: error: $*" >&2
  exit 1
}

usage() {
  sed -n '2,25p' "$0" | sed 's/^# \{0,1\}//'
}

valid_id() {
  case $1 in
    '' | *[!a-z0-9-]* | -*) return 1 ;;
  esac
  [ "${#1}" -le 64 ]
}

# mosquitto's config parser splits on whitespace and '#' starts a comment.
config_safe() {
  case $1 in
    *[[:space:]]* | *'#'* | *'"'*) die "path unusable in mosquitto/svdhub configs (whitespace, '#' or '\"'): $1" ;;
  esac
}

abs_path() {  # abs_path FILE: absolute path of an existing file
  [ -e "$1" ] || die "$1 does not exist"
  (cd "$(dirname "$1")" && printf '%s/%s\n' "$(pwd)" "$(basename "$1")")
}

# ---- process helpers ------------------------------------------------------------------------------

# alive PID: the process exists and is not a zombie (PID 1 here need not reap orphans promptly).
alive() {
  [ -r "/proc/$1/stat" ] || return 1
  state=$(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1) || return 1
  [ -n "$state" ] && [ "$state" != Z ] && [ "$state" != X ]
}

# ours PID CONFIG: PID is alive and its command line names CONFIG (guards against PID reuse).
ours() {
  alive "$1" || return 1
  tr '\0' '\n' <"/proc/$1/cmdline" 2>/dev/null | grep -qxF "$2"
}

# stop_pid NAME PIDFILE CONFIG: SIGTERM, wait, SIGKILL; removes PIDFILE.
stop_pid() {
  name=$1 pidfile=$2 conf=$3
  [ -f "$pidfile" ] || return 0
  pid=$(cat "$pidfile")
  case $pid in '' | *[!0-9]*) rm -f "$pidfile"; return 0 ;; esac
  if ! ours "$pid" "$conf"; then
    echo "$name (pid $pid) is not running"
    rm -f "$pidfile"
    return 0
  fi
  kill -TERM "$pid" 2>/dev/null || true
  waited=0
  while alive "$pid"; do
    if [ "$waited" -ge $((STOP_WAIT * 10)) ]; then
      echo "$name (pid $pid) did not stop within ${STOP_WAIT} s: SIGKILL" >&2
      kill -KILL "$pid" 2>/dev/null || true
      sleep 0.2
      break
    fi
    sleep 0.1
    waited=$((waited + 1))
  done
  rm -f "$pidfile"
  echo "stopped $name (pid $pid)"
}

# spawn PIDFILE LOG CMD...: CMD in the background in its own session (a Ctrl-C meant for the
# caller does not reach it; `stop` ends it), stdin /dev/null, stdout+stderr appended to LOG.
# Sets SPAWNED_PID.
spawn() {
  pidfile=$1 log=$2
  shift 2
  if command -v setsid >/dev/null 2>&1; then
    # Without job control a background child is not a process group leader, so setsid(1)
    # calls setsid() and execs CMD without forking: $! is CMD's PID (checked by the callers).
    setsid "$@" </dev/null >>"$log" 2>&1 &
  else
    "$@" </dev/null >>"$log" 2>&1 &
  fi
  SPAWNED_PID=$!
  echo "$SPAWNED_PID" >"$pidfile"
}

log_size() {
  if [ -f "$1" ]; then wc -c <"$1" | tr -d ' '; else echo 0; fi
}

log_since() {  # log_since FILE OFFSET
  tail -c +"$(($2 + 1))" "$1" 2>/dev/null || true
}

free_ports() {  # N: N distinct ports on 127.0.0.1, free a moment ago (all held open while picked)
  python3 -c 'import socket, sys
held = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in held: s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in held))' "$1"
}

# ---- configuration files ----------------------------------------------------------------------

write_mosquitto_conf() {  # PORT WS_PORT
  if [ "$(id -u)" -eq 0 ]; then
    # As root mosquitto would switch to the `mosquitto` user, which cannot read the 0600 keys
    # make-pki.sh wrote: stay root, as the integration test fixture does.
    run_as=root
  else
    run_as=$(id -un)  # mosquitto cannot switch users then; the line has no effect
  fi
  sed -e "s|@PORT@|$1|g" -e "s|@WS_PORT@|$2|g" -e "s|@BIND_ADDRESS@|127.0.0.1|g" -e "s|@PKI_DIR@|$DIR/pki|g" \
    -e "s|@ACL_FILE@|$DIR/acl|g" -e "s|@DATA_DIR@|$DIR/data|g" -e "s|@USER@|$run_as|g" \
    "$ROOT/deploy/mosquitto/hub-broker.conf.in" >"$DIR/mosquitto.conf.tmp"
  if grep -q '@[A-Z_]*@' "$DIR/mosquitto.conf.tmp"; then
    die "unreplaced placeholder in $ROOT/deploy/mosquitto/hub-broker.conf.in: $(grep -o '@[A-Z_]*@' "$DIR/mosquitto.conf.tmp" | head -n 1)"
  fi
  mv "$DIR/mosquitto.conf.tmp" "$DIR/mosquitto.conf"
}

write_acl() {  # EXTRA_ACL_OR_EMPTY
  cp "$ROOT/deploy/mosquitto/acl" "$DIR/acl.tmp"
  if [ -n "$1" ]; then
    {
      echo
      echo "# ---- appended by local-hub.sh from $1 (not part of the production ACL)"
      cat "$1"
    } >>"$DIR/acl.tmp"
  fi
  chmod 0600 "$DIR/acl.tmp"
  mv "$DIR/acl.tmp" "$DIR/acl"
}

write_svdhub_toml() {  # PORT
  {
    echo "# Written by scripts/local-hub.sh for a local demo/benchmark hub."
    echo "[store]"
    echo "database = \"$DIR/hub.db\""
    echo
    echo "[broker]"
    echo "host = \"localhost\""
    echo "port = $1"
    echo "ca = \"$DIR/pki/ca.crt\""
    echo "cert = \"$DIR/pki/clients/svdhub.crt\""
    echo "key = \"$DIR/pki/clients/svdhub.key\""
    echo "client_id = \"svdhub\""
    echo "mqtt = \"3.1.1\""
    echo
    echo "[witness]"
    echo "key = \"$DIR/keys/hub-witness.key\""
    echo
    # svdhub report: the linked series start from the death reports (docs/analysts.md).
    echo "[report]"
    echo "death_feed = \"death-reports\""
    # Every gateway (and every holder of a device key) may send every feed of this local hub.
    feed_list=$(printf '%s\n' "$FEEDS" | while IFS='=' read -r id schema; do
      [ -n "$id" ] && printf '"%s", ' "$id"
    done)
    partners=$(printf '%s\n' $GATEWAYS $(printf '%s\n' "$DEVICE_KEYS" | cut -d= -f1) | sort -u)
    for id in $partners; do
      echo
      echo "[[partner]]"
      echo "id = \"$id\""
      echo "feeds = [${feed_list%, }]"
      key=$(printf '%s\n' "$DEVICE_KEYS" | sed -n "s|^$id=||p" | tail -n 1)
      [ -z "$key" ] || echo "device_key = \"$key\""
      if [ -n "$SCHEDULES" ]; then
        echo "[partner.schedule]"
        printf '%s\n' "$SCHEDULES" | while IFS='=' read -r feed when; do
          [ -n "$feed" ] || continue
          every=${when%%/*} rest=${when#*/}
          day=${rest%%/*} by=${rest#*/}
          case $day in [0-9]*) day_value=$day ;; *) day_value="\"$day\"" ;; esac
          echo "$feed = { every = \"$every\", day = $day_value, by = \"$by\" }"
        done
      fi
    done
    printf '%s\n' "$FEEDS" | while IFS='=' read -r id schema; do
      [ -n "$id" ] || continue
      echo
      echo "[[feed]]"
      echo "id = \"$id\""
      echo "schema = \"$schema\""
    done
  } >"$DIR/svdhub.toml"
}

# ---- starting the two processes ---------------------------------------------------------------

MOSQUITTO_PID=""
SVDHUB_PID=""

start_mosquitto() {
  attempt=1
  while :; do
    ports=$(free_ports 2) || die "cannot pick free ports (python3 needed)"
    port=${ports% *}
    write_mosquitto_conf "$port" "${ports#* }"
    offset=$(log_size "$DIR/mosquitto.log")
    spawn "$DIR/mosquitto.pid" "$DIR/mosquitto.log" "$MOSQUITTO" -c "$DIR/mosquitto.conf"
    MOSQUITTO_PID=$SPAWNED_PID
    waited=0
    while :; do
      if ! alive "$MOSQUITTO_PID"; then
        MOSQUITTO_PID=""
        rm -f "$DIR/mosquitto.pid"
        if log_since "$DIR/mosquitto.log" "$offset" | grep -q "Address already in use" && [ "$attempt" -lt 5 ]; then
          break  # the port was taken between picking and binding: pick another
        fi
        log_since "$DIR/mosquitto.log" "$offset" | tail -n 20 >&2
        die "mosquitto exited during start-up (log above, in $DIR/mosquitto.log)"
      fi
      # "running" is logged once every listener is open (a failed bind exits instead). No probe
      # connection: it would only leave a TLS "unexpected eof" error in the broker's log.
      if log_since "$DIR/mosquitto.log" "$offset" | grep -q " running"; then
        ours "$MOSQUITTO_PID" "$DIR/mosquitto.conf" ||
          die "pid $MOSQUITTO_PID is not the mosquitto just started (setsid forked?)"
        echo "$port" >"$DIR/port"
        PORT=$port
        return 0
      fi
      if [ "$waited" -ge $((START_WAIT * 10)) ]; then
        log_since "$DIR/mosquitto.log" "$offset" | tail -n 20 >&2
        die "mosquitto not listening on 127.0.0.1:$port within $START_WAIT s (log: $DIR/mosquitto.log)"
      fi
      sleep 0.1
      waited=$((waited + 1))
    done
    attempt=$((attempt + 1))
  done
}

start_svdhub() {
  offset=$(log_size "$DIR/svdhub.log")
  spawn "$DIR/svdhub.pid" "$DIR/svdhub.log" "$SVDHUB" run --config "$DIR/svdhub.toml"
  SVDHUB_PID=$SPAWNED_PID
  waited=0
  while :; do
    if ! alive "$SVDHUB_PID"; then
      SVDHUB_PID=""
      rm -f "$DIR/svdhub.pid"
      log_since "$DIR/svdhub.log" "$offset" | tail -n 20 >&2
      die "svdhub exited during start-up (log above, in $DIR/svdhub.log)"
    fi
    if log_since "$DIR/svdhub.log" "$offset" | grep -q "^broker: connected to"; then
      ours "$SVDHUB_PID" "$DIR/svdhub.toml" ||
        die "pid $SVDHUB_PID is not the svdhub just started (setsid forked?)"
      return 0
    fi
    if [ "$waited" -ge $((START_WAIT * 10)) ]; then
      log_since "$DIR/svdhub.log" "$offset" | tail -n 20 >&2
      die "svdhub not connected to the broker within $START_WAIT s (log: $DIR/svdhub.log)"
    fi
    sleep 0.1
    waited=$((waited + 1))
  done
}

# On any failure during start, stop what this invocation started (EXIT runs after die's exit).
STARTED_OK=0
cleanup_failed_start() {
  [ "$STARTED_OK" -eq 0 ] || return 0
  if [ -n "$SVDHUB_PID" ]; then stop_pid svdhub "$DIR/svdhub.pid" "$DIR/svdhub.toml" >&2; fi
  if [ -n "$MOSQUITTO_PID" ]; then stop_pid mosquitto "$DIR/mosquitto.pid" "$DIR/mosquitto.conf" >&2; fi
  rm -f "$DIR/port"
}

find_binaries() {
  BUILD_DIR=${BUILD_DIR:-build}
  case $BUILD_DIR in /*) ;; *) BUILD_DIR="$ROOT/$BUILD_DIR" ;; esac
  SVDHUB=${SVDHUB:-$BUILD_DIR/apps/svdhub/svdhub}
  [ -x "$SVDHUB" ] ||
    die "svdhub not found at $SVDHUB: build it (cmake --build $BUILD_DIR --target svdhub) or set SVDHUB / BUILD_DIR"
  if [ -z "${MOSQUITTO:-}" ]; then
    MOSQUITTO=$(command -v mosquitto 2>/dev/null || true)
    [ -n "$MOSQUITTO" ] || [ ! -x /usr/sbin/mosquitto ] || MOSQUITTO=/usr/sbin/mosquitto
    [ -n "$MOSQUITTO" ] || [ ! -x /usr/local/sbin/mosquitto ] || MOSQUITTO=/usr/local/sbin/mosquitto
  fi
  { [ -n "$MOSQUITTO" ] && [ -x "$MOSQUITTO" ]; } ||
    die "mosquitto not found (deploy/install-deps.sh installs it; or set MOSQUITTO)"
  command -v python3 >/dev/null 2>&1 || die "python3 not found (deploy/install-deps.sh installs it)"
}

# ---- commands -----------------------------------------------------------------------------------

cmd_start() {
  GATEWAYS=""
  FEEDS="ed-assaults=$ROOT/deploy/examples/schemas/ed-assaults.json
death-reports=$ROOT/deploy/examples/schemas/death-reports.json
school-exclusions=$ROOT/deploy/examples/schemas/school-exclusions.json"
  EXTRA_ACL=${LOCAL_HUB_EXTRA_ACL:-}
  DEVICE_KEYS=""
  SCHEDULES=""
  while [ "$#" -gt 0 ]; do
    case $1 in
      --gateway)
        [ "$#" -ge 2 ] || die "--gateway needs an id"
        valid_id "$2" || die "invalid gateway id '$2': must match ^[a-z0-9][a-z0-9-]{0,63}\$"
        [ "$2" != svdhub ] || die "'svdhub' is the hub's own certificate; pick another gateway id"
        GATEWAYS="$GATEWAYS $2"
        shift 2 ;;
      --feed)
        [ "$#" -ge 2 ] || die "--feed needs ID=SCHEMA"
        id=${2%%=*} schema=${2#*=}
        { [ "$id" != "$2" ] && valid_id "$id" && [ -n "$schema" ]; } ||
          die "--feed wants ID=SCHEMA with ID of [a-z0-9-], got '$2'"
        schema=$(abs_path "$schema")
        config_safe "$schema"
        FEEDS="$FEEDS
$id=$schema"
        shift 2 ;;
      --device-key)
        [ "$#" -ge 2 ] || die "--device-key needs ID=PUBLIC_KEY"
        id=${2%%=*} key=${2#*=}
        { [ "$id" != "$2" ] && valid_id "$id" && [ -n "$key" ]; } ||
          die "--device-key wants ID=PUBLIC_KEY with ID of [a-z0-9-], got '$2'"
        key=$(abs_path "$key")
        config_safe "$key"
        DEVICE_KEYS="$DEVICE_KEYS
$id=$key"
        shift 2 ;;
      --schedule)
        [ "$#" -ge 2 ] || die "--schedule needs FEED=EVERY/DAY/HH:MM"
        printf '%s\n' "$2" | grep -Eq '^[a-z0-9][a-z0-9-]*=(week|month|day)/[a-z0-9]+/[0-9]{2}:[0-9]{2}$' ||
          die "--schedule wants FEED=EVERY/DAY/HH:MM (e.g. death-reports=week/monday/09:00), got '$2'"
        SCHEDULES="$SCHEDULES
$2"
        shift 2 ;;
      --extra-acl)
        [ "$#" -ge 2 ] || die "--extra-acl needs a file"
        EXTRA_ACL=$2
        shift 2 ;;
      -h | --help) usage; exit 0 ;;
      *) die "unknown argument '$1' (see --help)" ;;
    esac
  done
  if [ -n "$EXTRA_ACL" ]; then
    [ -f "$EXTRA_ACL" ] || die "extra ACL file $EXTRA_ACL does not exist"
  fi
  find_binaries

  mkdir -p "$DIR" || die "cannot create $DIR"
  DIR=$(cd "$DIR" && pwd)
  config_safe "$DIR"
  config_safe "$ROOT"
  if [ -f "$DIR/mosquitto.pid" ] && ours "$(cat "$DIR/mosquitto.pid")" "$DIR/mosquitto.conf"; then
    die "a local hub is already running in $DIR (mosquitto pid $(cat "$DIR/mosquitto.pid")): '$PROG stop $DIR' first"
  fi
  if [ -f "$DIR/svdhub.pid" ] && ours "$(cat "$DIR/svdhub.pid")" "$DIR/svdhub.toml"; then
    die "svdhub is already running in $DIR (pid $(cat "$DIR/svdhub.pid")): '$PROG stop $DIR' first"
  fi
  rm -f "$DIR/mosquitto.pid" "$DIR/svdhub.pid" "$DIR/port"

  trap cleanup_failed_start EXIT
  trap 'exit 130' INT TERM HUP

  # make-pki.sh keeps an existing CA and certificates and adds the missing ones.
  pki_args=""
  for g in $GATEWAYS; do pki_args="$pki_args --gateway $g"; done
  # shellcheck disable=SC2086
  if ! sh "$ROOT/deploy/pki/make-pki.sh" "$DIR/pki" --hub svdhub $pki_args >"$DIR/make-pki.log" 2>&1; then
    cat "$DIR/make-pki.log" >&2
    die "make-pki.sh failed (output above)"
  fi
  mkdir -p "$DIR/data" "$DIR/keys"
  chmod 0700 "$DIR/data" "$DIR/keys"
  # The witness key is kept across restarts: gateways check the hub's receipts against it.
  if [ ! -f "$DIR/keys/hub-witness.key" ]; then
    (umask 077 && openssl genpkey -algorithm ed25519 -out "$DIR/keys/hub-witness.key") ||
      die "cannot create the hub's witness key"
    openssl pkey -in "$DIR/keys/hub-witness.key" -pubout -out "$DIR/keys/hub-witness.pub" ||
      die "cannot write the hub's witness public key"
  fi
  write_acl "$EXTRA_ACL"

  start_mosquitto
  write_svdhub_toml "$PORT"
  start_svdhub
  STARTED_OK=1
  trap - EXIT INT TERM HUP

  echo "local hub running in $DIR"
  echo "  broker   localhost:$PORT (mTLS; CA $DIR/pki/ca.crt), mosquitto pid $MOSQUITTO_PID, log $DIR/mosquitto.log"
  echo "  svdhub   pid $SVDHUB_PID, store $DIR/hub.db, config $DIR/svdhub.toml, log $DIR/svdhub.log"
  for g in $GATEWAYS; do
    echo "  gateway  $g: cert $DIR/pki/clients/$g.crt, key $DIR/pki/clients/$g.key"
  done
  echo "  stop it with: $0 stop $DIR"
}

existing_dir() {
  [ -d "$DIR" ] || die "$DIR is not a directory"
  DIR=$(cd "$DIR" && pwd)
}

cmd_stop() {
  [ "$#" -eq 0 ] || die "stop takes only DIR"
  existing_dir
  # svdhub first, so it disconnects cleanly and the broker keeps its session.
  stop_pid svdhub "$DIR/svdhub.pid" "$DIR/svdhub.toml"
  stop_pid mosquitto "$DIR/mosquitto.pid" "$DIR/mosquitto.conf"
  rm -f "$DIR/port"
}

cmd_reset_store() {
  [ "$#" -eq 0 ] || die "reset-store takes only DIR"
  existing_dir
  [ -f "$DIR/svdhub.toml" ] || die "$DIR has no svdhub.toml: '$PROG start $DIR' first"
  { [ -f "$DIR/mosquitto.pid" ] && ours "$(cat "$DIR/mosquitto.pid")" "$DIR/mosquitto.conf"; } ||
    die "the broker of $DIR is not running: '$PROG start $DIR' first"
  find_binaries
  stop_pid svdhub "$DIR/svdhub.pid" "$DIR/svdhub.toml" >/dev/null
  rm -f "$DIR/hub.db" "$DIR/hub.db-wal" "$DIR/hub.db-shm" "$DIR/hub.db-journal"
  start_svdhub
  echo "svdhub restarted with an empty store (pid $SVDHUB_PID)"
}

cmd_status() {
  [ "$#" -eq 0 ] || die "status takes only DIR"
  existing_dir
  rc=0
  for p in "mosquitto mosquitto.pid mosquitto.conf" "svdhub svdhub.pid svdhub.toml"; do
    # shellcheck disable=SC2086
    set -- $p
    if [ -f "$DIR/$2" ] && ours "$(cat "$DIR/$2")" "$DIR/$3"; then
      echo "$1: running, pid $(cat "$DIR/$2")"
    else
      echo "$1: not running"
      rc=3
    fi
  done
  [ ! -f "$DIR/port" ] || echo "broker: localhost:$(cat "$DIR/port")"
  return "$rc"
}

[ "$#" -ge 1 ] || { usage >&2; exit 2; }
case $1 in
  -h | --help) usage; exit 0 ;;
esac
[ "$#" -ge 2 ] || { usage >&2; exit 2; }
COMMAND=$1
DIR=$2
shift 2
case $COMMAND in
  start) cmd_start "$@" ;;
  stop) cmd_stop "$@" ;;
  reset-store) cmd_reset_store "$@" ;;
  status) cmd_status "$@" ;;
  *) usage >&2; exit 2 ;;
esac
