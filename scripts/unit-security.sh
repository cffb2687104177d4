#!/bin/sh
# Scores the shipped systemd units with `systemd-analyze security --offline=yes` (systemd 252:
# reads the unit files themselves; no running systemd needed) and fails when either one's overall
# exposure is above the limit (2.0 by default, or $MAX_EXPOSURE). Prints each unit's score and,
# for a unit over the limit, every setting that costs it points.
set -eu
cd "$(dirname "$0")/.."
# Plain ASCII output ("->", "- "), whatever the caller's locale: the parsing below relies on it.
LC_ALL=C
export LC_ALL
MAX_EXPOSURE=${MAX_EXPOSURE:-2.0}
UNITS="deploy/systemd/svdgw.service deploy/systemd/svdhub.service"

command -v systemd-analyze >/dev/null 2>&1 || {
  echo "unit-security: systemd-analyze is not installed (Debian package systemd)" >&2
  exit 1
}

failed=0
for unit in $UNITS; do
  [ -f "$unit" ] || { echo "unit-security: $unit: no such file" >&2; failed=1; continue; }
  # systemd-analyze exits non-zero above --threshold; the score is read from its last line
  # instead, so that a limit with a decimal point works and the table can be shown.
  out=$(systemd-analyze security --offline=yes --no-pager "$unit" 2>&1) || true
  score=$(printf '%s\n' "$out" | sed -n 's/^-> Overall exposure level for .*: \([0-9][0-9]*\.[0-9]\).*/\1/p')
  if [ -z "$score" ]; then
    printf '%s\n' "$out" >&2
    echo "unit-security: $unit: no exposure level in systemd-analyze's output" >&2
    failed=1
    continue
  fi
  if awk -v s="$score" -v m="$MAX_EXPOSURE" 'BEGIN { exit !(s > m) }'; then
    echo "FAIL $unit: exposure $score (limit $MAX_EXPOSURE); settings that cost points:"
    printf '%s\n' "$out" | grep '^- ' || true
    failed=1
  else
    echo "ok   $unit: exposure $score (limit $MAX_EXPOSURE)"
  fi
done
exit "$failed"
