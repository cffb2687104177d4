#!/usr/bin/env python3
"""Checks that the tree's includes run one way, in the order a row travels
(docs/architecture.md): a file may include its own folder's headers and those of folders before
it, never one after it. `hub/` sits beside the gateway's stages and may use only the shared ones.
Prints every include that runs the wrong way and exits 1 if there is any."""
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
# Folders in order; those in one tuple are one tier and do not include each other's headers
# except as listed in SAME_TIER.
ORDER = [("base",), ("config",), ("crypto", "adapters", "protocol"), ("transport", "ops", "render"), ("audit",), ("ingest",),
         ("process",), ("deliver",), ("gateway",), ("apps",)]
SAME_TIER = {("protocol", "crypto")}  # the wire contract's digests and signatures
HUB_MAY_USE = {"base", "config", "crypto", "protocol", "transport", "ops", "render"}

rank = {folder: i for i, tier in enumerate(ORDER) for folder in tier}
include = re.compile(r'^\s*#\s*include\s+"(\w+)/', re.M)


def allowed(top: str, inc: str) -> bool:
    if inc == top:
        return True
    if top == "hub":
        return inc in HUB_MAY_USE
    if top == "apps" and inc == "hub":
        return True
    if inc not in rank:
        return inc != "hub" and inc != "tests"
    if rank[inc] == rank[top]:
        return (top, inc) in SAME_TIER
    return rank[inc] < rank[top]


def main() -> int:
    wrong = []
    for path in sorted(ROOT.glob("*/**/*")):
        if path.suffix not in (".h", ".cpp") or not path.is_file():
            continue
        top = path.relative_to(ROOT).parts[0]
        if top not in rank and top != "hub":
            continue
        for inc in include.findall(path.read_text(encoding="utf-8", errors="replace")):
            if not allowed(top, inc):
                wrong.append(f"{path.relative_to(ROOT)}: includes {inc}/")
    for line in wrong:
        print(line)
    print(f"{len(wrong)} include(s) against the order of the data path")
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main())
