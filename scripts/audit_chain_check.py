#!/usr/bin/env python3
"""Re-checks a gateway's audit log hash chain independently of svdgw (docs/audit.md).

    python3 scripts/audit_chain_check.py /var/lib/svdgw/audit.db

leaf_n  = SHA-256(0x00 || seq "\n" time "\n" actor "\n" action "\n" object "\n" details "\n" payload_sha256)
chain_n = SHA-256(chain_{n-1} || leaf_n), chain_0 = 32 zero bytes

Also checks that every stored checkpoint's chain hash is the chain at its seq. Signatures are
`svdgw audit verify`'s job (or OpenSSL's: the note format is in docs/audit.md).
Exit 0 when the chain holds, 1 with the first bad seq otherwise.
"""
import hashlib
import sqlite3
import sys


def main(path):
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    chain, expected, at = bytes(32), 1, {}
    rows = db.execute("SELECT seq, time, actor, action, object, details, payload_sha256, leaf_hash, chain_hash "
                      "FROM events ORDER BY seq")
    for seq, time, actor, action, obj, details, payload, leaf_hex, chain_hex in rows:
        if seq != expected:
            return fail(expected, "missing or out of order")
        row = "\n".join([str(seq), time, actor, action, obj, details, payload]).encode()
        leaf = hashlib.sha256(b"\x00" + row).digest()
        chain = hashlib.sha256(chain + leaf).digest()
        if leaf.hex() != leaf_hex:
            return fail(seq, "contents do not match the leaf hash")
        if chain.hex() != chain_hex:
            return fail(seq, "chain hash does not follow from the event before")
        at[seq] = chain.hex()
        expected += 1
    for seq, chain_hex in db.execute("SELECT seq, chain_hash FROM checkpoints ORDER BY seq"):
        if at.get(seq) != chain_hex:
            return fail(seq, "differs from the checkpoint signed at this seq")
    print(f"chain OK: {expected - 1} events, head {chain.hex()}")
    return 0


def fail(seq, what):
    print(f"chain BROKEN at seq {seq}: {what}")
    return 1


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1]))
