#!/usr/bin/python3
"""Benchmarks svdgw process against the Python baseline on the same extract, in the same run,
and prints a table.

  bench/run_bench.py [--rows 1000000] [--big-rows 5000000] [--runs 3] [--build build] [--work DIR]

Extracts are made by the benchmark kit's generator (bench/benchlib.py) (cached in the work directory). Outputs
(ours and the baseline's SQLite outbox) go to /dev/shm when it exists, so the figures measure the
pipeline, not this machine's disk. Peak RSS is each child process's own (wait4).
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import time

from benchlib import HERE, PYTHON, ROOT, SHARED_BENCH, extract


def run(cmd):
    """Runs cmd; returns (seconds, stdout)."""
    t0 = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({p.returncode}):\n{p.stderr}")
    return time.perf_counter() - t0, p.stdout


def run_measured(cmd):
    """Like run(), but also the child's own peak RSS (MiB), via wait4 on its pid."""
    t0 = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.execv(cmd[0], cmd)
    _, status, usage = os.wait4(pid, 0)
    seconds = time.perf_counter() - t0
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"{' '.join(cmd)} exited {os.waitstatus_to_exitcode(status)}")
    return seconds, usage.ru_maxrss / 1024.0



def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--big-rows", type=int, default=5_000_000, help="a second extract for peak RSS (0 = skip)")
    ap.add_argument("--runs", type=int, default=3, help="runs of svdgw process; the median is reported")
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--work", default=os.path.join(ROOT, "build", "bench-work"))
    a = ap.parse_args()

    svdgw = os.path.join(a.build, "apps", "svdgw", "svdgw")
    bench = os.path.join(a.build, "bench", "svd-bench")
    for b in (svdgw, bench):
        if not os.access(b, os.X_OK):
            sys.exit(f"{b} not built: run ./scripts/test.sh (or cmake --build {a.build}) first")
    os.makedirs(a.work, exist_ok=True)
    scratch = "/dev/shm" if os.path.isdir("/dev/shm") else a.work
    out_dir = os.path.join(scratch, f"svd-bench-out-{os.getpid()}")

    cfg_dir = os.path.join(a.work, "cfg")
    shutil.rmtree(cfg_dir, ignore_errors=True)
    shutil.copytree(os.path.join(HERE, "schemas"), os.path.join(cfg_dir, "schemas"))
    shutil.copy(os.path.join(HERE, "bench.toml"), cfg_dir)
    config = os.path.join(cfg_dir, "bench.toml")
    subprocess.run([svdgw, "keys", "generate", "--out", os.path.join(cfg_dir, "linkage.key")], check=True,
                   stdout=subprocess.DEVNULL)

    small = extract(a.work, a.rows)
    big = extract(a.work, a.big_rows) if a.big_rows else None

    # Stages, single-threaded, in-process.
    _, stage_json = run([bench, "--config", config, "--feed", "ed-extract", small])
    st = json.loads(stage_json)

    process = [svdgw, "process", "-q", "--config", config, "--feed", "ed-extract"]
    times, rss = [], []
    for _ in range(a.runs):
        s, r = run_measured(process + [small, "--out", out_dir])
        times.append(s)
        rss.append(r)
    times.sort()
    ours_s = times[len(times) // 2]
    s1, _ = run_measured(process + ["--workers", "1", small, "--out", out_dir])
    big_rss = run_measured(process + [big, "--out", out_dir])[1] if big else None
    shutil.rmtree(out_dir, ignore_errors=True)

    # The baseline: same file, same machine, same run.
    db = os.path.join(scratch, f"svd-bench-peer-{os.getpid()}.db")
    t0 = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        fd = os.open(os.path.join(a.work, "peer.out"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(fd, 1)
        os.execv(PYTHON, [PYTHON, os.path.join(SHARED_BENCH, "peer_pipeline.py"), small, "--no-publish", "--db", db])
    _, status, usage = os.wait4(pid, 0)
    peer_wall = time.perf_counter() - t0
    peer_rss = usage.ru_maxrss / 1024.0
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(db + suffix):
            os.remove(db + suffix)
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit("baseline failed: see " + os.path.join(a.work, "peer.out"))
    peer = None
    with open(os.path.join(a.work, "peer.out")) as f:
        for line in f:
            if line.startswith("RESULT "):
                peer = json.loads(line[7:])
    rows = st["rows"]
    peer_total = peer["ingest_s"]
    peer_stage = peer["stages_s"]

    def rate(seconds, n=rows):
        return n / seconds if seconds else float("nan")

    print(f"svd-gateway benchmark: {rows:,}-row ED extract ({os.path.getsize(small) / 2**20:.0f} MiB), "
          f"{os.cpu_count()} cores; outputs on {scratch}")
    print()
    print(f"{'stage':<38}{'svdgw rows/s':>14}{'baseline rows/s':>17}{'ratio':>8}")
    lines = [
        ("parse (CSV reader)", rate(st["parse_s"]), rate(peer_stage["read"])),
        ("validate (incl. parse)", rate(st["validate_s"]), rate(peer_stage["read"] + peer_stage["validate"])),
        ("pseudonymise (2 tokens per row)", rate(st["pseudonymise_s"], st["pseudonymise_rows"]),
         rate(peer_stage["pseudonymise"], peer["valid"])),
        ("pipeline, 1 thread, no output", rate(st["pipeline_s"]),
         rate(sum(peer_stage[k] for k in ("read", "validate", "pseudonymise", "serialise")))),
        ("svdgw process, 1 worker", rate(s1), rate(peer_total)),
        (f"svdgw process, default workers", rate(ours_s), rate(peer_total)),
    ]
    for name, ours, theirs in lines:
        print(f"{name:<38}{ours:>14,.0f}{theirs:>17,.0f}{ours / theirs:>7.1f}x")
    print()
    print(f"whole run: svdgw process {ours_s:.2f} s (median of {a.runs}: "
          f"{', '.join(f'{t:.2f}' for t in times)}); baseline {peer_total:.2f} s in-script, {peer_wall:.2f} s wall")
    print(f"peak RSS: svdgw {max(rss):.1f} MiB at {rows:,} rows"
          + (f", {big_rss:.1f} MiB at {a.big_rows:,} rows" if big_rss else "")
          + f"; baseline {peer_rss:.1f} MiB at {rows:,} rows")
    print(f"rows: {rows:,} in, {st['valid']:,} valid (baseline {peer['valid']:,})")
    print("RESULT " + json.dumps({"rows": rows, "svdgw_s": round(ours_s, 3), "baseline_s": peer_total,
                                  "ratio": round(peer_total / ours_s, 2), "svdgw_rss_mib": round(max(rss), 1),
                                  "svdgw_big_rss_mib": round(big_rss, 1) if big_rss else None,
                                  "baseline_rss_mib": round(peer_rss, 1)}))


if __name__ == "__main__":
    main()
