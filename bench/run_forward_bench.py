#!/usr/bin/python3
"""End-to-end forwarding benchmark: `svdgw forward` of a large ED extract through mosquitto with
mutual TLS to svdhub, beside the Python baseline publishing the same file to the same broker, in
the same run, and prints a table with the ratio.

  bench/run_forward_bench.py [--rows 1000000] [--runs 3] [--build-dir build] [--work DIR] [--keep]

What is measured
  svdgw:    wall time of the whole `svdgw forward` process (start → exit, which is after the hub's
            receipt for the last batch): read, validate, pseudonymise, write the SQLite outbox,
            publish QoS 1 over mTLS, and svdhub verifying, storing every record and answering
            with receipts. Peak RSS of that process (wait4). Each run gets a fresh state_dir
            (empty outbox) and a fresh hub store, so each run delivers every valid row.
  baseline: the kit's peer_pipeline.py FILE --host 127.0.0.1 --port P --ca … --cert …
            --key … --topic bench/peer-baseline/records, wall time start → exit (after the last
            PUBACK). Nobody subscribes to its topic: the broker acknowledges and drops its
            batches, so its end to end stops at the broker.
  The two alternate (svdgw first in odd runs, baseline first in even ones); medians are compared.

Setup: scripts/local-hub.sh starts mosquitto (the production config and ACL, plus
bench/forward-bench.acl which lets each client write under bench/<its CN>/) and svdhub on
127.0.0.1 with a test PKI (certificates for the bench config's partner and for `peer-baseline`).
The extract is made by the benchmark kit's generator (bench/benchlib.py) and cached in the work directory; the
outboxes, the hub's store and the broker's files go to /dev/shm when it exists (like
bench/run_bench.py), so the figures are the pipelines', not this machine's disk.
"""
import argparse
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import time

import benchlib
from benchlib import HERE, LOCAL_HUB, PYTHON, ROOT, SHARED_BENCH, extract, fail, local_hub, programs, tail, toml_string

benchlib.set_name("run_forward_bench")

FEED = "ed-extract"
BASELINE_ID = "peer-baseline"
BASELINE_TOPIC = f"bench/{BASELINE_ID}/records"
RSS_TARGET_BYTES = 32 * 1000 * 1000  # "peak RSS under 32 MB"
RATIO_TARGET = 20.0





def measure(argv, log_path, env=None):
    """Runs argv with stdout+stderr to log_path; returns (seconds, peak RSS MiB, exit code).
    The RSS is the child's own (wait4 rusage), not its parent's."""
    actions = [
        (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
        (os.POSIX_SPAWN_OPEN, 1, log_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644),
        (os.POSIX_SPAWN_DUP2, 1, 2),
    ]
    t0 = time.perf_counter()
    pid = os.posix_spawn(argv[0], argv, env if env is not None else os.environ, file_actions=actions)
    try:
        _, status, usage = os.wait4(pid, 0)
    except BaseException:  # Ctrl-C or SIGTERM while waiting: do not leave the child running
        os.kill(pid, signal.SIGTERM)
        os.waitpid(pid, 0)
        raise
    seconds = time.perf_counter() - t0
    measure.cpu_s = usage.ru_utime + usage.ru_stime
    return seconds, usage.ru_maxrss / 1024.0, os.waitstatus_to_exitcode(status)




def hub_stats(svdhub, hub_config):
    """(records, batches) svdhub reports for FEED, from `svdhub stats`; fails loudly otherwise."""
    p = subprocess.run([svdhub, "stats", "--config", hub_config], capture_output=True, text=True)
    if p.returncode != 0:
        fail(f"svdhub stats failed ({p.returncode}):\n{p.stdout}{p.stderr}")
    m = re.search(rf"^\s*feed {re.escape(FEED)}: ([\d,]+) records? in ([\d,]+) batch(?:es)?", p.stdout, re.M)
    if not m:
        if re.search(rf"^\s*feed {re.escape(FEED)}:", p.stdout, re.M) is None and "total: 0 records" in p.stdout:
            return 0, 0, p.stdout
        fail(f"cannot read the count of feed {FEED} from `svdhub stats`:\n{p.stdout}")
    return int(m.group(1).replace(",", "")), int(m.group(2).replace(",", "")), p.stdout


def vm_hwm_mib(pid_file):
    """Peak RSS (VmHWM) of the running process whose PID is in pid_file, or None."""
    try:
        with open(pid_file) as f:
            pid = int(f.read().strip())
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except (OSError, ValueError):
        pass
    return None


def cpu_seconds(pid_file):
    """User + system CPU seconds used so far by the process whose PID is in pid_file, or None."""
    try:
        with open(pid_file) as f:
            pid = int(f.read().strip())
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def delta(after, before):
    return after - before if after is not None and before is not None else float("nan")


def count_in_log(path, offset, needle):
    try:
        with open(path, "rb") as f:
            f.seek(offset)
            return f.read().count(needle.encode())
    except OSError:
        return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=1_000_000, help="rows in the generated extract")
    ap.add_argument("--runs", type=int, default=3, help="runs of each side, alternating; medians compared")
    ap.add_argument("--build-dir", default=os.path.join(ROOT, "build"), help="where svdgw and svdhub are built")
    ap.add_argument("--work", default=None, help="extract cache (default: BUILD_DIR/bench-work)")
    ap.add_argument("--keep", action="store_true", help="keep the scratch directory (configs, logs, stores)")
    ap.add_argument("--timeout", type=int, default=900, help="svdgw forward --timeout, seconds")
    ap.add_argument("--baseline-only", action="store_true", help="only the baseline half (no svdgw forward runs)")
    a = ap.parse_args()
    if a.rows < 1 or a.runs < 1:
        fail("--rows and --runs must be at least 1")

    build_dir = os.path.abspath(a.build_dir)
    svdgw, svdhub = programs(build_dir)
    for sub, what in ((["forward", "--help"], svdgw), (["stats", "--help"], svdhub)):
        if a.baseline_only:
            break
        if subprocess.run([what, *sub], capture_output=True).returncode != 0:
            fail(f"{what} has no `{sub[0]}` command: rebuild {build_dir} from a tree that has it")
    for f in ("gen_ed_extract.py", "peer_pipeline.py"):
        if not os.path.exists(os.path.join(SHARED_BENCH, f)):
            fail(f"{os.path.join(SHARED_BENCH, f)} not found")
    if subprocess.run([PYTHON, "-c", "import paho.mqtt.client"], capture_output=True).returncode != 0:
        fail(f"{PYTHON} cannot import paho.mqtt (deploy/install-deps.sh installs python3-paho-mqtt)")

    work = os.path.abspath(a.work or os.path.join(build_dir, "bench-work"))
    os.makedirs(work, exist_ok=True)
    scratch_root = "/dev/shm" if os.path.isdir("/dev/shm") else work
    scratch = os.path.join(scratch_root, f"svd-forward-bench-{os.getpid()}")
    os.makedirs(scratch)
    hub_dir = os.path.join(scratch, "hub")
    hub_started = False
    # `finally` below stops the hub; make a plain `kill` of the benchmark go through it too.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        # ---- the gateway's config: bench/bench.toml, its schema, a new key --------------------------
        cfg_dir = os.path.join(scratch, "cfg")
        shutil.copytree(os.path.join(HERE, "schemas"), os.path.join(cfg_dir, "schemas"))
        with open(os.path.join(HERE, "bench.toml")) as f:
            base_toml = f.read()
        m = re.search(r'^partner\s*=\s*"([a-z0-9-]+)"', base_toml, re.M)
        if not m:
            fail("no partner id in bench/bench.toml")
        partner = m.group(1)
        if not re.search(r"^state_dir\s*=.*$", base_toml, re.M):
            fail("no state_dir line in bench/bench.toml")
        subprocess.run([svdgw, "keys", "generate", "--out", os.path.join(cfg_dir, "linkage.key")], check=True,
                       stdout=subprocess.DEVNULL)

        def write_config(name, state_dir, port=None):
            text = re.sub(r"^state_dir\s*=.*$", lambda _: f"state_dir = {toml_string(state_dir)}", base_toml,
                          count=1, flags=re.M)
            pki = os.path.join(hub_dir, "pki")
            if port is not None:
                    text += (f"\n[hub]\nhost = \"localhost\"\nport = {port}\n"
                         f"ca = {toml_string(os.path.join(pki, 'ca.crt'))}\n"
                         f"cert = {toml_string(os.path.join(pki, 'clients', partner + '.crt'))}\n"
                         f"key = {toml_string(os.path.join(pki, 'clients', partner + '.key'))}\n")
            path = os.path.join(cfg_dir, name)
            with open(path, "w") as f:
                f.write(text)
            return path

        small = extract(work, a.rows)
        size_mib = os.path.getsize(small) / 2**20

        # The rows every svdgw run must deliver: `svdgw process` on the same file counts them.
        probe_cfg = write_config("probe.toml", os.path.join(scratch, "state-probe"))
        probe_out = os.path.join(scratch, "process-out")
        p = subprocess.run([svdgw, "process", "-q", "--config", probe_cfg, "--feed", FEED, small, "--out", probe_out],
                           capture_output=True, text=True)
        if p.returncode != 0:
            fail(f"svdgw process of {small} failed ({p.returncode}):\n{p.stderr}")
        with open(os.path.join(probe_out, "report.json")) as f:
            counts = json.load(f)["rows"]
        rows_in, valid = counts["total"], counts["valid"]
        shutil.rmtree(probe_out, ignore_errors=True)

        # ---- the local hub -----------------------------------------------------------------------------
        print(f"starting a local hub in {hub_dir} …", file=sys.stderr)
        hub_started = True  # from here on, stop it whatever happens
        local_hub(build_dir, "start", hub_dir, "--gateway", partner, "--gateway", BASELINE_ID,
                  "--feed", f"{FEED}={os.path.join(HERE, 'schemas', 'ed-extract.json')}",
                  "--extra-acl", os.path.join(HERE, "forward-bench.acl"))
        with open(os.path.join(hub_dir, "port")) as f:
            port = int(f.read().strip())
        hub_config = os.path.join(hub_dir, "svdhub.toml")
        pki = os.path.join(hub_dir, "pki")
        mosquitto_version = subprocess.run(["sh", "-c", "mosquitto -h 2>&1 | head -n 1"], capture_output=True,
                                           text=True).stdout.strip()

        def run_svdgw(i):
            local_hub(build_dir, "reset-store", hub_dir)  # an empty store: runs are comparable
            records, _, _ = hub_stats(svdhub, hub_config)
            if records != 0:
                fail(f"the hub store is not empty after reset-store ({records} records)")
            hub_log = os.path.join(hub_dir, "svdhub.log")
            offset = os.path.getsize(hub_log)
            config = write_config(f"run{i}.toml", os.path.join(scratch, f"state-{i}"), port)
            log = os.path.join(scratch, f"svdgw-run{i}.log")
            argv = [svdgw, "forward", "--config", config, "--feed", FEED, "--timeout", str(a.timeout), "--quiet",
                    small]
            hub_cpu0 = cpu_seconds(os.path.join(hub_dir, "svdhub.pid"))
            broker_cpu0 = cpu_seconds(os.path.join(hub_dir, "mosquitto.pid"))
            seconds, rss, code = measure(argv, log)
            cpu = (measure.cpu_s, delta(cpu_seconds(os.path.join(hub_dir, "svdhub.pid")), hub_cpu0),
                   delta(cpu_seconds(os.path.join(hub_dir, "mosquitto.pid")), broker_cpu0))
            if code != 0:
                broker_log = os.path.join(hub_dir, "mosquitto.log")
                broker_lines = [l for l in tail(broker_log, 400).splitlines(True) if partner in l][-5:]
                fail(f"svdgw forward exited {code} in run {i} (log {log}):\n{tail(log)}\n"
                     f"svdhub log ({hub_log}):\n{tail(hub_log, 10)}\n"
                     f"broker log, {partner} ({broker_log}):\n{''.join(broker_lines)}")
            stored, batches, stats_text = hub_stats(svdhub, hub_config)
            if stored != valid:
                fail(f"run {i}: svdhub stored {stored:,} records of feed {FEED}, expected {valid:,} "
                     f"(the valid rows of {rows_in:,}):\n{stats_text}")
            return {"s": seconds, "rss_mib": rss, "stored": stored, "batches": batches, "cpu": cpu,
                    "duplicates": count_in_log(hub_log, offset, ": duplicate"),
                    "hub_rss_mib": vm_hwm_mib(os.path.join(hub_dir, "svdhub.pid"))}

        def run_baseline(i):
            log = os.path.join(scratch, f"baseline-run{i}.log")
            db = os.path.join(scratch, f"peer-outbox-{i}.db")
            argv = [PYTHON, os.path.join(SHARED_BENCH, "peer_pipeline.py"), small, "--db", db,
                    "--host", "127.0.0.1", "--port", str(port), "--topic", BASELINE_TOPIC,
                    "--ca", os.path.join(pki, "ca.crt"),
                    "--cert", os.path.join(pki, "clients", BASELINE_ID + ".crt"),
                    "--key", os.path.join(pki, "clients", BASELINE_ID + ".key")]
            broker_cpu0 = cpu_seconds(os.path.join(hub_dir, "mosquitto.pid"))
            seconds, rss, code = measure(argv, log)
            cpu = (measure.cpu_s, delta(cpu_seconds(os.path.join(hub_dir, "mosquitto.pid")), broker_cpu0))
            for suffix in ("", "-wal", "-shm"):
                if os.path.exists(db + suffix):
                    os.remove(db + suffix)
            if code != 0:
                fail(f"the baseline exited {code} in run {i} (log {log}):\n{tail(log)}")
            result = None
            with open(log) as f:
                for line in f:
                    if line.startswith("RESULT "):
                        result = json.loads(line[7:])
            if result is None:
                fail(f"no RESULT line from the baseline in run {i} (log {log})")
            if result.get("unsent", 1) != 0:
                fail(f"the baseline left {result.get('unsent')} outbox rows unacknowledged in run {i}")
            return {"s": seconds, "rss_mib": rss, "result": result, "cpu": cpu}

        ours, theirs, order = [], [], []
        for i in range(1, a.runs + 1):
            load = os.getloadavg()[0]
            first_ours = i % 2 == 1
            if a.baseline_only:
                print(f"run {i}/{a.runs}: baseline (load {load:.2f}) …", file=sys.stderr)
                theirs.append(run_baseline(i))
                print(f"  baseline {theirs[-1]['s']:.2f} s", file=sys.stderr)
                continue
            print(f"run {i}/{a.runs}: {'svdgw, then baseline' if first_ours else 'baseline, then svdgw'} "
                  f"(load {load:.2f}) …", file=sys.stderr)
            if first_ours:
                ours.append(run_svdgw(i))
                theirs.append(run_baseline(i))
            else:
                theirs.append(run_baseline(i))
                ours.append(run_svdgw(i))
            order.append("svdgw first" if first_ours else "baseline first")
            print(f"  svdgw {ours[-1]['s']:.2f} s, baseline {theirs[-1]['s']:.2f} s", file=sys.stderr)
    finally:
        if hub_started and os.path.isdir(hub_dir):
            subprocess.run(["sh", LOCAL_HUB, "stop", hub_dir], stdout=subprocess.DEVNULL)
        if a.keep:
            print(f"kept {scratch}", file=sys.stderr)
        else:
            shutil.rmtree(scratch, ignore_errors=True)

    # ---- the table ---------------------------------------------------------------------------------
    def rate(seconds):
        return rows_in / seconds if seconds else float("nan")

    if a.baseline_only:
        print(f"baseline only: {rows_in:,}-row ED extract ({size_mib:.0f} MiB), {os.cpu_count()} cores, "
              f"{mosquitto_version or 'mosquitto'} on 127.0.0.1:{port}, mutual TLS, QoS 1")
        for i, t in enumerate(theirs, 1):
            r = t["result"]
            print(f"run {i}: {t['s']:.2f} s wall ({rate(t['s']):,.0f} rows/s), in-script {r['total_s']:.2f} s, "
                  f"publish {r['stages_s']['publish']:.2f} s, {r['msgs']:,} messages, {r['valid']:,} valid, "
                  f"peak RSS {t['rss_mib']:.1f} MiB")
        print(f"median: {statistics.median(t['s'] for t in theirs):.2f} s wall "
              f"({rate(statistics.median(t['s'] for t in theirs)):,.0f} rows/s)")
        return

    print(f"svd-gateway forward benchmark: {rows_in:,}-row ED extract ({size_mib:.0f} MiB, {valid:,} valid), "
          f"{os.cpu_count()} cores; outboxes and hub store on {scratch_root}")
    print(f"broker: {mosquitto_version or 'mosquitto'} on 127.0.0.1:{port}, mutual TLS (EC P-256), MQTT 3.1.1, QoS 1")
    print()
    print(f"{'run':<5}{'order':<16}{'svdgw s':>9}{'rows/s':>11}{'RSS MiB':>9}{'hub stored':>12}"
          f"{'baseline s':>12}{'rows/s':>10}{'RSS MiB':>9}{'ratio':>8}")
    for i, (o, t) in enumerate(zip(ours, theirs), 1):
        print(f"{i:<5}{order[i - 1]:<16}{o['s']:>9.2f}{rate(o['s']):>11,.0f}{o['rss_mib']:>9.1f}{o['stored']:>12,}"
              f"{t['s']:>12.2f}{rate(t['s']):>10,.0f}{t['rss_mib']:>9.1f}{t['s'] / o['s']:>7.1f}x")
    ours_s = statistics.median(o["s"] for o in ours)
    theirs_s = statistics.median(t["s"] for t in theirs)
    ratio = theirs_s / ours_s
    peak_rss = max(o["rss_mib"] for o in ours)
    print(f"{'median':<21}{ours_s:>9.2f}{rate(ours_s):>11,.0f}{statistics.median(o['rss_mib'] for o in ours):>9.1f}"
          f"{'':>12}{theirs_s:>12.2f}{rate(theirs_s):>10,.0f}"
          f"{statistics.median(t['rss_mib'] for t in theirs):>9.1f}{ratio:>7.1f}x")
    print()
    print(f"svdgw: `svdgw forward` wall time, start to exit after the hub's receipt for the last batch; includes "
          f"svdhub verifying and storing every record (hub stored = `svdhub stats`, checked = {valid:,} valid rows "
          f"each run) and answering with receipts. {ours[-1]['batches']:,} batches per run; re-sent batches "
          f"answered 'duplicate': {sum(o['duplicates'] for o in ours)}.")
    print("CPU seconds per run (user+system), svdgw side: " + "; ".join(
        f"svdgw {o['cpu'][0]:.2f}, svdhub {o['cpu'][1]:.2f}, mosquitto {o['cpu'][2]:.2f}" for o in ours))
    print("CPU seconds per run, baseline side: " + "; ".join(
        f"peer_pipeline {t['cpu'][0]:.2f}, mosquitto {t['cpu'][1]:.2f}" for t in theirs))
    hub_rss = [o["hub_rss_mib"] for o in ours if o["hub_rss_mib"] is not None]
    if hub_rss:
        print(f"svdhub peak RSS: {max(hub_rss):.1f} MiB (not in the svdgw column).")
    r = theirs[-1]["result"]
    print(f"baseline: peer_pipeline.py wall time, start to exit after the last PUBACK ({r['msgs']:,} messages of "
          f"500 records, {r['valid']:,} valid rows); nobody subscribes to {BASELINE_TOPIC}, so the broker drops "
          f"them: no receiver work. In-script end to end: "
          f"{', '.join(format(t['result']['total_s'], '.2f') for t in theirs)} s.")
    print(f"targets: ratio >= {RATIO_TARGET:.0f}x: {'met' if ratio >= RATIO_TARGET else 'NOT met'} ({ratio:.1f}x); "
          f"svdgw peak RSS (largest of the runs) < 32 MB (30.5 MiB): "
          f"{'met' if peak_rss * 2**20 < RSS_TARGET_BYTES else 'NOT met'} ({peak_rss:.1f} MiB)")
    print("RESULT " + json.dumps({
        "rows": rows_in, "valid": valid, "runs": a.runs,
        "svdgw_s": [round(o["s"], 3) for o in ours], "baseline_s": [round(t["s"], 3) for t in theirs],
        "svdgw_median_s": round(ours_s, 3), "baseline_median_s": round(theirs_s, 3), "ratio": round(ratio, 2),
        "svdgw_rss_mib": round(peak_rss, 1), "hub_stored": [o["stored"] for o in ours],
        "baseline_rss_mib": round(max(t["rss_mib"] for t in theirs), 1)}))


if __name__ == "__main__":
    main()
