#!/usr/bin/env python3
"""Recomputes every token in the golden records with an independent implementation of the token
contract (docs/architecture.md, "Keyed tokens": HMAC-SHA256, NFKD name normalisation, Modulus-11 NHS numbers), written
from the specification with Python's standard library only. Exit 0 when all tokens match.

Usage: crosscheck_tokens.py GOLDEN_DIR
"""
import csv
import hashlib
import hmac
import io
import json
import re
import sys
import unicodedata
from datetime import date

KEY = bytes(range(32))
KEY_ID = "k2026a"


def token(kind, value):
    mac = hmac.new(KEY, kind.encode() + b"\x00" + value.encode(), hashlib.sha256).digest()
    return KEY_ID + ":" + mac[:16].hex()


def name(s):
    decomposed = unicodedata.normalize("NFKD", s)
    return re.sub(r"[^A-Z]", "", "".join(c for c in decomposed if not unicodedata.combining(c)).upper())


def nhs(s):
    d = s.replace(" ", "").replace("-", "")
    return d if re.fullmatch(r"\d{10}", d) else None


def iso(s, uk):
    if uk:
        d, m, y = (int(x) for x in s.split("/"))
    else:
        y, m, d = (int(x) for x in s.split("-"))
    return date(y, m, d).isoformat()


def person(row, uk):
    sn, fn, dob = (row.get(k) or "" for k in ("surname", "forename", "date_of_birth"))
    if not sn.strip() or not fn.strip() or not dob.strip() or not name(sn) or not name(fn):
        return None
    return token("person", name(sn) + "|" + name(fn) + "|" + iso(dob.strip(), uk))


def rows(path, encoding):
    with open(path, encoding=encoding, newline="") as f:
        text = f.read()
    if path.endswith(".jsonl"):
        return [json.loads(line) for line in text.splitlines() if line.strip()]
    return list(csv.DictReader(io.StringIO(text)))


def check(golden, case, input_name, encoding, id_field, uk):
    by_id = {str(r[id_field]).strip(): r for r in rows(f"{golden}/{case}/{input_name}", encoding)}
    checked = 0
    with open(f"{golden}/{case}/records.jsonl", encoding="utf-8") as f:
        for line in f:
            rec = json.loads(line)
            src = by_id[str(rec[id_field])]
            if "nhs_number_token" in rec:
                raw = (src.get("nhs_number") or "").strip()
                want = token("nhs_number", nhs(raw)) if raw else None
                assert rec["nhs_number_token"] == want, f"{case}: nhs token of {id_field} {rec[id_field]}"
                checked += 1
            assert rec["person_token"] == person(src, uk), f"{case}: person token of {id_field} {rec[id_field]}"
            checked += 1
    return checked


def main():
    golden = sys.argv[1]
    n = check(golden, "death-reports", "input.csv", "utf-8", "report_id", False)
    n += check(golden, "death-reports-jsonl", "input.jsonl", "utf-8", "report_id", False)
    n += check(golden, "school-exclusions", "input.csv", "cp1252", "record_id", True)
    print(f"{n} tokens match the independent implementation")


if __name__ == "__main__":
    main()
