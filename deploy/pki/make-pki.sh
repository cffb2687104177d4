#!/bin/sh
# make-pki.sh — a test/development PKI for the svd-gateway hub broker (mosquitto) and its clients.
#
# NOT a production CA: keys are unencrypted files on disk and the CA key sits next to the leaves.
# It exists so integration tests, demos and developers get a complete mutually-authenticated TLS
# setup in well under a second with nothing but the `openssl` command-line tool.
#
# Key type: EC P-256 (prime256v1) everywhere, with ECDSA-SHA256 signatures. Chosen over RSA 3072
# because key generation is milliseconds instead of up to a second per key (the integration tests
# build a fresh PKI per test process), handshakes are cheaper, and P-256 is supported by every
# peer we talk to (OpenSSL 3, mosquitto, Paho C, RabbitMQ/Erlang, Python ssl). Its security level
# (~128 bit) matches RSA 3072.
#
# Layout of OUT_DIR (directories 0700, *.key 0600, everything else 0644):
#   ca.crt ca.key crl.pem            the CA, its key, and its CRL (signed by ca.key)
#   broker.crt broker.key            the hub broker's server certificate
#   servers/<name>.crt servers/<name>.key  (--server) TLS server certificates, e.g. the gateway's
#                                    HTTPS upload API
#   clients/<id>.crt clients/<id>.key  one client certificate per gateway, plus the hub receiver's
#   other-ca/ca.crt other-ca/rogue.crt other-ca/rogue.key   (--other-ca) an unrelated CA + client
#   ca-db/                           `openssl ca` state (index of issued/revoked certs, serials)
#
# Client certificates carry extendedKeyUsage clientAuth, so the same `--gateway ID` certificates serve
# as export-client certificates for the gateway's HTTPS upload API (the CN is the caller's identity).
#
# Client certificate CNs become the MQTT username (mosquitto `use_identity_as_username`) and
# therefore a topic level through the ACL's %u, so they are restricted to ^[a-z0-9][a-z0-9-]{0,63}$
# (no '/', '+', '#', no upper case, no spaces, no newlines).
set -eu
LC_ALL=C
export LC_ALL
umask 077

PROG=make-pki.sh
CA_DAYS=3650
LEAF_DAYS=825
# The CRL is valid for ten years on purpose: mosquitto (like OpenSSL generally) rejects EVERY client
# certificate once the CRL's nextUpdate has passed, so an expired CRL locks all partners out at
# once. A test/dev PKI has nobody re-issuing CRLs on a schedule; a production CA must re-issue
# well before nextUpdate instead of relying on a long lifetime.
CRL_DAYS=3650

usage() {
  cat <<'EOF'
Usage: make-pki.sh OUT_DIR [--gateway ID]... [--hub ID] [--broker-name NAME]... [--no-ip-san]
                           [--server NAME]... [--revoke ID]... [--other-ca] [--force]

Creates (or extends) a test/development PKI in OUT_DIR:
  ca.crt, ca.key, crl.pem          CA (EC P-256) and its CRL (valid 3650 days)
  broker.crt, broker.key           broker server certificate, SAN DNS:localhost, IP:127.0.0.1
                                   and DNS:NAME for each --broker-name
  servers/NAME.crt, servers/NAME.key
                                   one TLS server certificate per --server NAME, CN=NAME,
                                   SAN DNS:localhost, IP:127.0.0.1 and DNS:NAME
  clients/ID.crt, clients/ID.key   one client certificate per --gateway ID (clientAuth: also an
                                   export client of the HTTPS upload API), and the hub's
  other-ca/ca.crt, other-ca/rogue.crt, other-ca/rogue.key
                                   with --other-ca: an unrelated CA and a client 'rogue' it signed

Options:
  --gateway ID        issue a client certificate with CN=ID (repeatable)
  --hub ID            the hub receiver's client certificate CN (default: svdhub)
  --broker-name NAME  extra DNS name in the broker certificate's SAN (repeatable)
  --no-ip-san         leave IP:127.0.0.1 out of the broker certificate (for negative tests)
  --server NAME       issue a TLS server certificate servers/NAME.crt (repeatable), e.g. for the
                      gateway's HTTPS upload API
  --revoke ID         revoke clients/ID.crt and regenerate crl.pem (repeatable)
  --other-ca          also create other-ca/ (an unrelated CA and its client 'rogue')
  --force             discard an existing PKI in OUT_DIR and create a new one
  -h, --help          show this help

IDs must match ^[a-z0-9][a-z0-9-]{0,63}$ (they become MQTT usernames and topic levels).
Server NAMEs are DNS names (letters, digits, '.' and '-'; not starting with '.' or '-').
Re-running on an existing OUT_DIR keeps the CA and every certificate already issued and only
adds what is missing (and applies --revoke); --force starts over.
EOF
}

die() {
  echo "$PROG: error: $*" >&2
  exit 1
}

valid_id() {
  # Pure shell (no grep): a value containing a newline must not pass by matching one line.
  case $1 in
    '' | *[!a-z0-9-]*) return 1 ;;
    [a-z0-9]*) ;;
    *) return 1 ;;
  esac
  [ "${#1}" -le 64 ]
}

valid_dns_name() {
  case $1 in
    '' | *[!A-Za-z0-9.-]* | .* | -*) return 1 ;;
  esac
  [ "${#1}" -le 253 ]
}

# ---- arguments ----------------------------------------------------------------------------------
OUT=""
GATEWAYS=""
HUB=svdhub
BROKER_NAMES=""
SERVERS=""
NO_IP_SAN=0
REVOKE=""
OTHER_CA=0
FORCE=0

need_arg() {
  [ "$#" -ge 2 ] || die "$1 needs a value (see --help)"
}

while [ "$#" -gt 0 ]; do
  case $1 in
    -h | --help) usage; exit 0 ;;
    --gateway)
      need_arg "$@"
      valid_id "$2" || die "invalid gateway id '$2': must match ^[a-z0-9][a-z0-9-]{0,63}\$"
      GATEWAYS="$GATEWAYS $2"; shift 2 ;;
    --hub)
      need_arg "$@"
      valid_id "$2" || die "invalid hub id '$2': must match ^[a-z0-9][a-z0-9-]{0,63}\$"
      HUB=$2; shift 2 ;;
    --broker-name)
      need_arg "$@"
      valid_dns_name "$2" || die "invalid broker name '$2': letters, digits, '.' and '-' only"
      BROKER_NAMES="$BROKER_NAMES $2"; shift 2 ;;
    --no-ip-san) NO_IP_SAN=1; shift ;;
    --server)
      need_arg "$@"
      valid_dns_name "$2" || die "invalid server name '$2': letters, digits, '.' and '-' only"
      SERVERS="$SERVERS $2"; shift 2 ;;
    --revoke)
      need_arg "$@"
      valid_id "$2" || die "invalid id to revoke '$2'"
      REVOKE="$REVOKE $2"; shift 2 ;;
    --other-ca) OTHER_CA=1; shift ;;
    --force) FORCE=1; shift ;;
    --) shift; break ;;
    -*) die "unknown option '$1' (see --help)" ;;
    *)
      [ -z "$OUT" ] || die "more than one OUT_DIR given ('$OUT' and '$1')"
      OUT=$1; shift ;;
  esac
done
if [ "$#" -gt 0 ]; then
  # Only OUT_DIR may follow `--` (for a directory name starting with '-').
  { [ -z "$OUT" ] && [ "$#" -eq 1 ]; } || die "unexpected arguments: $*"
  OUT=$1
fi
[ -n "$OUT" ] || { usage >&2; exit 2; }

for g in $GATEWAYS; do
  # The hub's identity has read access to every partner's batches: a gateway must never get it.
  [ "$g" != "$HUB" ] || die "gateway id '$g' is the hub's id; pick another"
done

command -v openssl >/dev/null 2>&1 || die "the openssl command is not installed"

# ---- working directory --------------------------------------------------------------------------
mkdir -p "$OUT" || die "cannot create $OUT"
chmod 0700 "$OUT"
cd "$OUT" || die "cannot enter $OUT"
OUT_ABS=$(pwd)

TMP=".make-pki.tmp.$$"
rm -rf "$TMP"
mkdir "$TMP"
trap 'rm -rf "$TMP"' EXIT
trap 'exit 130' INT TERM HUP

# Runs a command quietly; on failure shows its diagnostics and stops.
run() {
  if ! "$@" >"$TMP/out" 2>"$TMP/err"; then
    cat "$TMP/err" >&2
    die "command failed: $1 $2"
  fi
}

created() {
  echo "created $OUT_ABS/$1${2:+  ($2)}"
}

mode_files() {
  # mode_files MODE FILE...: set the mode of files that exist.
  m=$1; shift
  for f in "$@"; do
    if [ -f "$f" ]; then chmod "$m" "$f"; fi
  done
}

new_key() {
  run openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
    -pkeyopt ec_param_enc:named_curve -out "$1"
  chmod 0600 "$1"
}

write_ca_config() {
  # `openssl ca` config for the main CA; paths relative to OUT_DIR (the script runs inside it).
  cat >ca-db/openssl.cnf <<EOF
# Generated by make-pki.sh; rewritten on every run.
[ ca ]
default_ca = svd_ca

[ svd_ca ]
database = ca-db/index.txt
new_certs_dir = ca-db/newcerts
serial = ca-db/serial
crlnumber = ca-db/crlnumber
certificate = ca.crt
private_key = ca.key
default_md = sha256
default_days = $LEAF_DAYS
default_crl_days = $CRL_DAYS
policy = policy_cn
unique_subject = no
copy_extensions = none
email_in_dn = no
preserve = no

[ policy_cn ]
commonName = supplied

[ req ]
distinguished_name = req_dn
prompt = no

[ req_dn ]
CN = unused

[ v3_ca ]
basicConstraints = critical, CA:true, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash

[ client_ext ]
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid

[ crl_ext ]
authorityKeyIdentifier = keyid
EOF
  chmod 0644 ca-db/openssl.cnf
}

# issue_leaf NAME_BASE CN EXTFILE_OR_EMPTY EXTENSIONS_SECTION
issue_leaf() {
  base=$1 cn=$2 extfile=$3 section=$4
  new_key "$base.key"
  run openssl req -new -key "$base.key" -subj "/CN=$cn" -config ca-db/openssl.cnf \
    -out "$TMP/leaf.csr"
  if [ -n "$extfile" ]; then
    run openssl ca -batch -notext -config ca-db/openssl.cnf -extfile "$extfile" \
      -extensions "$section" -in "$TMP/leaf.csr" -out "$base.crt"
  else
    run openssl ca -batch -notext -config ca-db/openssl.cnf -extensions "$section" \
      -in "$TMP/leaf.csr" -out "$base.crt"
  fi
  chmod 0644 "$base.crt"
}

# ---- --force: discard only what this script manages ---------------------------------------------
if [ "$FORCE" -eq 1 ]; then
  rm -rf ca.crt ca.key crl.pem broker.crt broker.key servers clients other-ca ca-db
fi

# ---- CA -----------------------------------------------------------------------------------------
NEED_CRL=0
if [ -f ca.crt ] && [ -f ca.key ] && [ -f ca-db/index.txt ]; then
  echo "keeping existing CA $OUT_ABS/ca.crt (use --force to start over)"
  write_ca_config
elif [ -e ca.crt ] || [ -e ca.key ] || [ -e ca-db ]; then
  die "$OUT_ABS holds an incomplete CA (ca.crt, ca.key or ca-db/ missing); refusing to overwrite it without --force"
else
  mkdir -p ca-db/newcerts
  chmod 0700 ca-db ca-db/newcerts
  : >ca-db/index.txt
  echo "unique_subject = no" >ca-db/index.txt.attr
  # Random 128-bit serials (the top bit cleared so the number stays positive).
  serial=$(openssl rand -hex 16)
  echo "0${serial#?}" >ca-db/serial
  echo 1000 >ca-db/crlnumber
  mode_files 0644 ca-db/index.txt ca-db/index.txt.attr ca-db/serial ca-db/crlnumber
  write_ca_config
  new_key ca.key
  run openssl req -x509 -new -key ca.key -subj "/O=svd-gateway test PKI/CN=svd-gateway test CA" \
    -days "$CA_DAYS" -sha256 -config ca-db/openssl.cnf -extensions v3_ca -out ca.crt
  chmod 0644 ca.crt
  created ca.crt "CA certificate, EC P-256, $CA_DAYS days"
  created ca.key "CA private key"
  NEED_CRL=1
fi

# ---- server certificates -------------------------------------------------------------------------
# issue_server NAME_BASE CN SAN: one code path for the broker and every --server certificate.
issue_server() {
  cat >"$TMP/server.ext" <<EOF
[ server_ext ]
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = $3
EOF
  issue_leaf "$1" "$2" "$TMP/server.ext" server_ext
}

if [ -f broker.crt ] && [ -f broker.key ]; then
  echo "keeping existing $OUT_ABS/broker.crt (use --force to re-issue)"
  if [ -n "$BROKER_NAMES" ] || [ "$NO_IP_SAN" -eq 1 ]; then
    echo "$PROG: warning: --broker-name/--no-ip-san ignored for the existing broker certificate" >&2
  fi
else
  san="DNS:localhost"
  for n in $BROKER_NAMES; do san="$san,DNS:$n"; done
  if [ "$NO_IP_SAN" -eq 0 ]; then san="$san,IP:127.0.0.1"; fi
  broker_cn=localhost
  for n in $BROKER_NAMES; do broker_cn=$n; break; done
  issue_server broker "$broker_cn" "$san"
  created broker.crt "broker server certificate, SAN $san"
  created broker.key "broker private key"
fi

if [ -n "$SERVERS" ]; then
  mkdir -p servers
  chmod 0700 servers
fi
for n in $SERVERS; do
  if [ -f "servers/$n.crt" ] && [ -f "servers/$n.key" ]; then
    echo "keeping existing $OUT_ABS/servers/$n.crt"
    continue
  fi
  san="DNS:localhost,IP:127.0.0.1"
  if [ "$n" != localhost ]; then san="$san,DNS:$n"; fi
  issue_server "servers/$n" "$n" "$san"
  created "servers/$n.crt" "server certificate, SAN $san"
  created "servers/$n.key" "server private key"
done

# ---- client certificates -------------------------------------------------------------------------
mkdir -p clients
chmod 0700 clients
for id in $HUB $GATEWAYS; do
  if [ -f "clients/$id.crt" ] && [ -f "clients/$id.key" ]; then
    echo "keeping existing $OUT_ABS/clients/$id.crt"
    continue
  fi
  issue_leaf "clients/$id" "$id" "" client_ext
  if [ "$id" = "$HUB" ]; then what="hub receiver"; else what="gateway"; fi
  created "clients/$id.crt" "$what client certificate, CN=$id"
  created "clients/$id.key" "$what private key"
done

# ---- revocations ---------------------------------------------------------------------------------
for id in $REVOKE; do
  [ -f "clients/$id.crt" ] || die "cannot revoke '$id': $OUT_ABS/clients/$id.crt does not exist"
  serial=$(openssl x509 -in "clients/$id.crt" -noout -serial) || die "cannot read clients/$id.crt"
  serial=${serial#serial=}
  if awk -F '\t' -v s="$serial" '$1 == "R" && toupper($4) == toupper(s) { found = 1 } END { exit !found }' \
    ca-db/index.txt; then
    echo "already revoked: $id (serial $serial)"
    continue
  fi
  run openssl ca -batch -config ca-db/openssl.cnf -revoke "clients/$id.crt" -crl_reason keyCompromise
  echo "revoked $OUT_ABS/clients/$id.crt (serial $serial)"
  NEED_CRL=1
done

# ---- CRL -----------------------------------------------------------------------------------------
if [ "$NEED_CRL" -eq 1 ] || [ ! -f crl.pem ]; then
  run openssl ca -batch -config ca-db/openssl.cnf -gencrl -crldays "$CRL_DAYS" -crlexts crl_ext \
    -out crl.pem
  chmod 0644 crl.pem
  created crl.pem "CRL, valid $CRL_DAYS days"
fi

# ---- unrelated CA (negative tests) ---------------------------------------------------------------
if [ "$OTHER_CA" -eq 1 ]; then
  if [ -f other-ca/ca.crt ] && [ -f other-ca/rogue.crt ] && [ -f other-ca/rogue.key ]; then
    echo "keeping existing $OUT_ABS/other-ca/"
  else
    rm -rf other-ca
    mkdir other-ca
    chmod 0700 other-ca
    # Same subject name as the real CA on purpose (an impostor): the broker must check the
    # signature against the trusted key, not just match issuer names. Its key is discarded once
    # 'rogue' is signed; nothing else is ever signed by it. The [req], [v3_ca] and [client_ext]
    # sections of the real CA's config serve for it too (its [ca] section is not used).
    new_key "$TMP/other-ca.key"
    run openssl req -x509 -new -key "$TMP/other-ca.key" \
      -subj "/O=svd-gateway test PKI/CN=svd-gateway test CA" -days "$CA_DAYS" -sha256 \
      -config ca-db/openssl.cnf -extensions v3_ca -out other-ca/ca.crt
    new_key other-ca/rogue.key
    run openssl req -new -key other-ca/rogue.key -subj "/CN=rogue" -config ca-db/openssl.cnf \
      -out "$TMP/rogue.csr"
    run openssl x509 -req -in "$TMP/rogue.csr" -CA other-ca/ca.crt -CAkey "$TMP/other-ca.key" \
      -set_serial "0x0$(openssl rand -hex 15)" -days "$LEAF_DAYS" -sha256 \
      -extfile ca-db/openssl.cnf -extensions client_ext -out other-ca/rogue.crt
    chmod 0644 other-ca/ca.crt other-ca/rogue.crt
    created other-ca/ca.crt "unrelated CA certificate (same name, different key)"
    created other-ca/rogue.crt "client certificate CN=rogue signed by the unrelated CA"
    created other-ca/rogue.key "rogue private key"
  fi
fi

# ---- final permissions (also repairs files left by an older run) ---------------------------------
for d in . servers clients other-ca ca-db ca-db/newcerts; do
  if [ -d "$d" ]; then chmod 0700 "$d"; fi
done
mode_files 0600 ca.key broker.key servers/*.key clients/*.key other-ca/*.key
mode_files 0644 ca.crt crl.pem broker.crt servers/*.crt clients/*.crt other-ca/*.crt ca-db/openssl.cnf \
  ca-db/index.txt ca-db/index.txt.attr ca-db/index.txt.old ca-db/index.txt.attr.old \
  ca-db/serial ca-db/serial.old ca-db/crlnumber ca-db/crlnumber.old ca-db/newcerts/*.pem
exit 0
