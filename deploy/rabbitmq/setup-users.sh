#!/bin/sh
# setup-users.sh — RabbitMQ users and permissions for the svd-gateway hub broker (RabbitMQ 3.10
# with the MQTT plugin, deploy/rabbitmq/rabbitmq.conf.in). One user per partner gateway and one
# per svdhub identity, each named after its certificate's CN, none with a password.
#
# Also a policy bounding every MQTT session queue to 1 GiB of waiting messages.
# What each user may do (checked by tests/integration/rabbitmq_test.cpp):
#   partner P   publish  svd/v1/P/<feed>/batch, svd/v1/P/audit, svd/v1/P/status (retained, will)
#               subscribe svd/v1/P/receipt                     and nothing else
#               session  only its own queue mqtt-subscription-Pqos1, so a client that claims
#                        another's client id cannot take over that session
#   hub H       subscribe svd/v1/+/+/batch, svd/v1/+/audit, svd/v1/+/status (or one partner's)
#               publish  svd/v1/<any partner>/receipt
#               session  client id H, or H-<suffix> (one per svdhub instance sharing the
#                        certificate, docs/clustering.md)
# RabbitMQ applies the topic permissions to routing keys, where MQTT's '/' is '.', and to
# subscriptions as written (a '+' is '*' there): the hub's read pattern allows the wildcards, a
# partner's does not. A publish or subscription outside them closes the client's connection.
#
# The definitions are written as one JSON document and imported with a single
# `rabbitmqctl import_definitions` (each rabbitmqctl call costs a second or two), or, with --out,
# only written, e.g. for `load_definitions` in rabbitmq.conf on a new cluster. Importing is
# additive: running it again with one new partner adds that partner and leaves the others alone.
# Offboarding a partner: `rabbitmqctl delete_user ID` (its connections are closed at once), then
# `rabbitmqctl -p VHOST delete_queue mqtt-subscription-IDqos1`.
set -eu
LC_ALL=C
export LC_ALL

PROG=setup-users.sh
RABBITMQCTL=${RABBITMQCTL:-rabbitmqctl}

usage() {
  cat <<'EOF'
Usage: setup-users.sh [--vhost VHOST] [--exchange EXCHANGE] --hub ID [--hub ID]...
                      [--out FILE] [--keep-guest] PARTNER...

Creates (or updates) in RabbitMQ, in one import:
  the virtual host VHOST (default: svd; must match mqtt.vhost in rabbitmq.conf),
  a user without a password for every PARTNER and every --hub ID (the certificates' CNs),
  their permissions on VHOST and their topic permissions on EXCHANGE (default: amq.topic).
Then deletes the well-known `guest` user (unless --keep-guest) and lists the topic permissions.

Options:
  --hub ID          an svdhub identity (repeatable; at least one)
  --vhost VHOST     virtual host (default: svd)
  --exchange NAME   the MQTT plugin's exchange (default: amq.topic; mqtt.exchange)
  --out FILE        only write the definitions to FILE (JSON), touch no broker
  --keep-guest      do not delete the `guest` user
  -h, --help        show this help

IDs must match ^[a-z0-9][a-z0-9-]{0,63}$. A partner id may not start with a hub id and '-'
(those client ids belong to the hub's instances).
Environment: RABBITMQCTL (default: rabbitmqctl), and whatever it reads (RABBITMQ_NODENAME ...).
EOF
}

die() {
  echo "$PROG: error: $*" >&2
  exit 1
}

valid_id() {
  printf '%s' "$1" | grep -Eq '^[a-z0-9][a-z0-9-]{0,63}$' && [ "$(printf '%s' "$1" | wc -l)" -eq 0 ]
}

# Names that go into JSON and regexes unescaped must stay plain.
valid_name() {
  printf '%s' "$1" | grep -Eq '^[A-Za-z0-9._-]{1,64}$' && [ "$(printf '%s' "$1" | wc -l)" -eq 0 ]
}

VHOST=svd
EXCHANGE=amq.topic
HUBS=
PARTNERS=
OUT=
KEEP_GUEST=0
while [ $# -gt 0 ]; do
  case "$1" in
    --hub) [ $# -ge 2 ] || die "--hub needs an ID"; HUBS="$HUBS $2"; shift 2 ;;
    --vhost) [ $# -ge 2 ] || die "--vhost needs a name"; VHOST=$2; shift 2 ;;
    --exchange) [ $# -ge 2 ] || die "--exchange needs a name"; EXCHANGE=$2; shift 2 ;;
    --out) [ $# -ge 2 ] || die "--out needs a file"; OUT=$2; shift 2 ;;
    --keep-guest) KEEP_GUEST=1; shift ;;
    -h|--help) usage; exit 0 ;;
    -*) die "unknown option '$1' (see --help)" ;;
    *) PARTNERS="$PARTNERS $1"; shift ;;
  esac
done

[ -n "$HUBS" ] || die "give at least one --hub ID (svdhub's certificate CN)"
[ -n "$PARTNERS" ] || die "give at least one PARTNER id (a gateway certificate's CN)"
valid_name "$VHOST" || die "invalid vhost '$VHOST': 1-64 of A-Z, a-z, 0-9, '.', '_', '-'"
valid_name "$EXCHANGE" || die "invalid exchange '$EXCHANGE': 1-64 of A-Z, a-z, 0-9, '.', '_', '-'"
for id in $HUBS $PARTNERS; do
  valid_id "$id" || die "invalid id '$id': must match ^[a-z0-9][a-z0-9-]{0,63}$"
done
for p in $PARTNERS; do
  for h in $HUBS; do
    [ "$p" != "$h" ] || die "'$p' is given both as a partner and as a hub"
    case "$p" in "$h"-*) die "partner '$p' would share client ids with hub '$h' (starts with '$h-')" ;; esac
  done
done

# Regex and JSON escaping: the exchange may contain '.', which must match itself; JSON needs each
# backslash doubled.
ex_re=$(printf '%s' "$EXCHANGE" | sed 's/\./\\./g')
json() { printf '%s' "$1" | sed 's/\\/\\\\/g'; }

user_fmt='%s\n    {"name": "%s", "password_hash": "", "hashing_algorithm": "rabbit_password_hashing_sha256", "tags": []}'
perm_fmt='%s\n    {"user": "%s", "vhost": "%s", "configure": "%s", "write": "%s", "read": "%s"}'
topic_fmt='%s\n    {"user": "%s", "vhost": "%s", "exchange": "%s", "write": "%s", "read": "%s"}'

definitions() {
  sep=
  printf '{\n  "vhosts": [{"name": "%s"}],\n  "users": [' "$VHOST"
  for id in $HUBS $PARTNERS; do
    # An empty password hash: the user cannot log in with a password, only with its certificate.
    # shellcheck disable=SC2059  # the formats above are constants
    printf "$user_fmt" "$sep" "$id"
    sep=,
  done
  printf '\n  ],\n  "permissions": ['
  sep=
  for id in $HUBS $PARTNERS; do
    case " $HUBS " in
      *" $id "*) q="mqtt-subscription-$id(-[a-z0-9-]+)?qos[01]" ;;
      *) q="mqtt-subscription-${id}qos[01]" ;;
    esac
    # shellcheck disable=SC2059
    printf "$perm_fmt" "$sep" "$id" "$VHOST" "$(json "^$q\$")" "$(json "^($ex_re|$q)\$")" "$(json "^($ex_re|$q)\$")"
    sep=,
  done
  printf '\n  ],\n  "topic_permissions": ['
  sep=
  for id in $HUBS; do
    # shellcheck disable=SC2059
    printf "$topic_fmt" "$sep" "$id" "$VHOST" "$EXCHANGE" "$(json '^svd\.v1\.[a-z0-9-]+\.receipt$')" \
      "$(json '^svd\.v1\.(\*|[a-z0-9-]+)\.((\*|[a-z0-9-]+)\.batch|audit|status)$')"
    sep=,
  done
  for id in $PARTNERS; do
    # {username} is expanded by RabbitMQ to the authenticated user, i.e. the certificate's CN.
    # shellcheck disable=SC2059
    printf "$topic_fmt" "$sep" "$id" "$VHOST" "$EXCHANGE" \
      "$(json '^svd\.v1\.{username}\.([a-z0-9-]+\.batch|audit|status)$')" "$(json '^svd\.v1\.{username}\.receipt$')"
    sep=,
  done
  # Every MQTT session queue holds at most 1 GiB of waiting messages: beyond it the broker refuses
  # new ones (the gateways send those batches again after their receipt timeout) instead of
  # growing without end during a long hub outage.
  printf '\n  ],\n  "policies": [\n    {"vhost": "%s", "name": "svd-session-queue-bytes", "pattern": "^mqtt-subscription-", "apply-to": "queues", "priority": 0, "definition": {"max-length-bytes": 1073741824, "overflow": "reject-publish"}}' "$VHOST"
  printf '\n  ]\n}\n'
}

if [ -n "$OUT" ]; then
  umask 077
  definitions > "$OUT.tmp"
  mv "$OUT.tmp" "$OUT"
  echo "wrote $OUT"
  exit 0
fi

tmp=$(mktemp "${TMPDIR:-/tmp}/svd-rabbitmq-definitions.XXXXXX")
trap 'rm -f "$tmp"' EXIT
definitions > "$tmp"
# rabbitmqctl runs as another user under the Debian wrapper (/usr/sbin/rabbitmqctl su's to
# rabbitmq): let it read the file (it holds no secret: no passwords, only names and patterns).
chmod 0644 "$tmp"
"$RABBITMQCTL" import_definitions "$tmp"
if [ "$KEEP_GUEST" -eq 0 ] && "$RABBITMQCTL" -q list_users | awk '{print $1}' | grep -qx guest; then
  "$RABBITMQCTL" delete_user guest
fi
# The import completes in the background: wait (bounded) until every user has its topic
# permissions, then show them.
i=0
while :; do
  listed=$("$RABBITMQCTL" -q list_topic_permissions -p "$VHOST")
  missing=
  for id in $HUBS $PARTNERS; do
    printf '%s\n' "$listed" | awk -v u="$id" -v ex="$EXCHANGE" '$1 == u && $2 == ex {found = 1} END {exit !found}' ||
      missing="$missing $id"
  done
  [ -n "$missing" ] || break
  i=$((i + 1))
  [ "$i" -lt 30 ] || die "the import has not completed after 30 checks (no topic permissions yet for:$missing)"
  sleep 1
done
printf '%s\n' "$listed"
