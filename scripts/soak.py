#!/usr/bin/env python3
"""The crash and outage soak: the real `svdgw run`, mosquitto and `svdhub run` on 127.0.0.1, with
partners uploading throughout (`svdgw submit`), and in one run:

  1. kill -9 after kill -9, spread over the gateway (while an upload is streaming, while an
     extract is being processed, while batches are on their way), svdhub and the broker, each
     restarted at once;
  2. an outage: svdhub away for the first half (the broker takes the gateway's batches, no receipt
     comes, the gateway sends each again after receipt_timeout_seconds, then less and less often)
     and the broker away for the second half (the gateway reconnects with backoff), uploads
     going on throughout;
  3. everything back, drained, stopped, and checked: every accepted extract processed and each
     of its batches acknowledged; the hub holding every record of them exactly once; nothing left
     in the outbox, nothing rejected; every SQLite file passing integrity_check; `svdgw audit
     verify` passing; the peak RSS of gateway, hub and broker over the whole run.

Prints a table of figures and exits 0 when every check passes, 1 when one fails, 2 on a set-up
problem. Bounded in time (each wait has a deadline), loopback only, every process stopped by the
PID this script started. --ci is the two-minute version the test script runs.

  scripts/soak.py [--ci] [--kills N] [--outage-seconds S] [--extracts N] [--upload-gap S] [--out DIR]

The full run (the defaults) takes a little over an hour: 100 kills, a 60-minute outage, 130
extracts of 3000 rows uploaded 30 s apart so that they span both.

BUILD_DIR (default build) holds the svdgw and svdhub under test; SVD_SYNTH names the extract
generator (default: the first of $BUILD_DIR-asan/tests/synth/svd-synth and
$BUILD_DIR/tests/synth/svd-synth).
"""

import argparse
import http.client
import json
import os
import random
import re
import shutil
import signal
import sqlite3
import ssl
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PARTNER = "northgate-partnership"
# The example config's feeds and the export clients allowed to send them.
FEEDS = {"ed-assaults": "northgate-ed-export", "death-reports": "northgate-icb-export"}


class SetupError(Exception):
    pass


def log(msg):
    print(time.strftime("%H:%M:%S") + " " + msg, flush=True)


def wait_for(what, predicate, seconds, poll=0.1):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(poll)
    raise SetupError("timed out after %d s waiting for %s" % (seconds, what))


class Proc:
    """One long-running program, restarted by this script as often as it is killed. Stopped only
    by the PID it was started with; its peak resident memory is sampled throughout."""

    def __init__(self, name, argv, logfile, ready):
        self.name, self.argv, self.logfile, self.ready = name, argv, logfile, ready
        self.popen = None
        self.peak_rss_kib = 0  # the highest VmHWM of any of its runs
        self.phase_rss_kib = {}  # phase -> the highest VmRSS sampled in it
        self.kills = 0

    def log_text(self):
        try:
            with open(self.logfile, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def start(self):
        before = self.ready(self.log_text())
        with open(self.logfile, "a") as out:
            self.popen = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                          start_new_session=True)
        try:
            wait_for(self.name + " to start", lambda: self.popen.poll() is not None or
                     self.ready(self.log_text()) > before, 30)
        except SetupError:
            self.stop()
            raise
        if self.popen.poll() is not None:
            raise SetupError("%s exited at start; its log: %s" % (self.name, self.logfile))

    def alive(self):
        return self.popen is not None and self.popen.poll() is None

    def sample(self, phase=None):
        if not self.alive():
            return
        try:
            with open("/proc/%d/status" % self.popen.pid) as f:
                for line in f:
                    if line.startswith("VmHWM:"):  # the peak since it started
                        self.peak_rss_kib = max(self.peak_rss_kib, int(line.split()[1]))
                    elif line.startswith("VmRSS:") and phase:
                        self.phase_rss_kib[phase] = max(self.phase_rss_kib.get(phase, 0), int(line.split()[1]))
        except (FileNotFoundError, ProcessLookupError):
            pass

    def kill9(self):
        self.sample()
        if self.alive():
            self.popen.send_signal(signal.SIGKILL)
            self.popen.wait()
            self.kills += 1

    def stop(self, grace=20):
        if not self.alive():
            return None
        self.sample()
        self.popen.send_signal(signal.SIGTERM)
        try:
            return self.popen.wait(grace)
        except subprocess.TimeoutExpired:
            self.popen.send_signal(signal.SIGKILL)
            return self.popen.wait()


def count_re(pattern):
    rx = re.compile(pattern, re.M)
    return lambda text: len(rx.findall(text))


class Soak:
    def __init__(self, args):
        self.args = args
        build = os.environ.get("BUILD_DIR", "build")
        if not os.path.isabs(build):
            build = os.path.join(ROOT, build)
        self.svdgw = os.path.join(build, "apps/svdgw/svdgw")
        self.svdhub = os.path.join(build, "apps/svdhub/svdhub")
        synth = os.environ.get("SVD_SYNTH") or next(
            (p for p in (build + "-asan/tests/synth/svd-synth", build + "/tests/synth/svd-synth") if os.access(p, os.X_OK)),
            "")
        for prog in (self.svdgw, self.svdhub, synth):
            if not prog or not os.access(prog, os.X_OK):
                raise SetupError("not built: %s (build svdgw, svdhub and svd-synth first)" % (prog or "svd-synth"))
        self.synth = synth
        self.dir = os.path.abspath(args.out)
        self.hub_dir = os.path.join(self.dir, "hub")
        self.accepted = {}  # extract id -> feed
        self.lock = threading.Lock()
        self.uploading = threading.Event()  # a submit is running
        self.stop_uploads = threading.Event()
        self.outage_began = threading.Event()
        self.kill_kinds = {}
        self.upload_failures = 0

    # ---- set-up ------------------------------------------------------------------------------

    def run_checked(self, argv, **kw):
        r = subprocess.run(argv, capture_output=True, text=True, **kw)
        if r.returncode != 0:
            raise SetupError("%s failed (%d): %s%s" % (" ".join(argv[:3]), r.returncode, r.stdout, r.stderr))
        return r.stdout

    def set_up(self):
        shutil.rmtree(self.dir, ignore_errors=True)
        os.makedirs(self.dir)
        env = dict(os.environ, SVDHUB=self.svdhub)
        self.run_checked([self.svdgw, "keys", "generate-device", "--out", os.path.join(self.dir, "device.key")])
        # The test PKI and the hub's configs; its processes are then this script's to run.
        self.run_checked(["sh", os.path.join(ROOT, "scripts/local-hub.sh"), "start", self.hub_dir, "--gateway", PARTNER,
                          "--device-key", PARTNER + "=" + os.path.join(self.dir, "device.pub")], env=env)
        self.run_checked(["sh", os.path.join(ROOT, "scripts/local-hub.sh"), "stop", self.hub_dir], env=env)
        args = ["--server", "localhost"]
        for client in FEEDS.values():
            args += ["--gateway", client]
        self.run_checked(["sh", os.path.join(ROOT, "deploy/pki/make-pki.sh"), os.path.join(self.hub_dir, "pki")] + args)
        with open(os.path.join(self.hub_dir, "mosquitto.conf")) as f:
            self.broker_port = int(re.search(r"^listener (\d+)", f.read(), re.M).group(1))
        self.http_port, self.ops_port = free_port(), free_port()
        self.run_checked([self.svdgw, "keys", "generate", "--out", os.path.join(self.dir, "linkage.key")])
        shutil.copytree(os.path.join(ROOT, "deploy/examples/schemas"), os.path.join(self.dir, "schemas"))
        with open(os.path.join(ROOT, "deploy/examples/svdgw.toml")) as f:
            config = re.sub(r"^state_dir = .*$", 'state_dir = "state"', f.read(), flags=re.M)
        pki = "hub/pki"
        config += f"""
[hub]
host = "localhost"
port = {self.broker_port}
ca = "{pki}/ca.crt"
cert = "{pki}/clients/{PARTNER}.crt"
key = "{pki}/clients/{PARTNER}.key"
receipt_timeout_seconds = {self.args.receipt_timeout}

[batches]
max_records = 200

[http]
listen = "127.0.0.1"
port = {self.http_port}
cert = "{pki}/servers/localhost.crt"
key = "{pki}/servers/localhost.key"
client_ca = "{pki}/ca.crt"
crl = "{pki}/crl.pem"

[ops]
listen = "127.0.0.1"
port = {self.ops_port}

[storage]
retain_extracts_hours = 24

[audit]
device_key = "device.key"
hub_witness_key = "hub/keys/hub-witness.pub"
"""
        self.config = os.path.join(self.dir, "svdgw.toml")
        with open(self.config, "w") as f:
            f.write(config)
        self.run_checked([self.svdgw, "check-config", "--config", self.config])
        self.broker = Proc("broker", [shutil.which("mosquitto") or "/usr/sbin/mosquitto", "-c",
                                      os.path.join(self.hub_dir, "mosquitto.conf")],
                           os.path.join(self.hub_dir, "mosquitto.log"), count_re(r" running$"))
        self.hub = Proc("svdhub", [self.svdhub, "run", "--config", os.path.join(self.hub_dir, "svdhub.toml")],
                        os.path.join(self.hub_dir, "svdhub.log"), count_re(r"^broker: connected to"))
        self.gateway = Proc("svdgw", [self.svdgw, "run", "--config", self.config], os.path.join(self.dir, "svdgw-run.log"),
                            count_re(r"running as partner"))
        self.extracts = []
        for i in range(self.args.extracts):
            feed = list(FEEDS)[i % len(FEEDS)]
            path = os.path.join(self.dir, "extracts", "%s-%03d.csv" % (feed, i))
            os.makedirs(os.path.dirname(path), exist_ok=True)
            self.run_checked([self.synth, feed, str(self.args.rows), path, str(1000 + i)])
            self.extracts.append((feed, path))


    # ---- the gateway seen from outside -------------------------------------------------------

    def metric(self, series):
        try:
            c = http.client.HTTPConnection("127.0.0.1", self.ops_port, timeout=5)
            c.request("GET", "/metrics")
            text = c.getresponse().read().decode()
            c.close()
        except OSError:
            return None
        m = re.search("^" + re.escape(series) + r" (\S+)$", text, re.M)
        return float(m.group(1)) if m else None

    def status(self, extract_id, feed):
        client = FEEDS[feed]
        ctx = ssl.create_default_context(cafile=os.path.join(self.hub_dir, "pki/ca.crt"))
        ctx.load_cert_chain(os.path.join(self.hub_dir, "pki/clients", client + ".crt"),
                            os.path.join(self.hub_dir, "pki/clients", client + ".key"))
        try:
            c = http.client.HTTPSConnection("localhost", self.http_port, context=ctx, timeout=10)
            c.request("GET", "/v1/extracts/" + extract_id)
            r = c.getresponse()
            body = r.read()
            c.close()
            return json.loads(body) if r.status == 200 else None
        except (OSError, ValueError):
            return None

    # ---- partners uploading all along --------------------------------------------------------

    def uploads(self):
        """Each extract in turn, as an export job would send it: retried (by svdgw submit, then by
        this loop) until the gateway has accepted it."""
        queue = list(self.extracts)
        held_back = len(queue) // 3  # for the outage, whatever the kills take
        while queue and not self.stop_uploads.is_set():
            if len(queue) <= held_back:
                self.outage_began.wait()
            feed, path = queue[0]
            client = FEEDS[feed]
            pki = os.path.join(self.hub_dir, "pki")
            self.uploading.set()
            r = subprocess.run([self.svdgw, "submit", "--url", "https://localhost:%d" % self.http_port, "--feed", feed,
                                "--cert", os.path.join(pki, "clients", client + ".crt"),
                                "--key", os.path.join(pki, "clients", client + ".key"), "--ca", os.path.join(pki, "ca.crt"),
                                "--retries", "2", "--max-backoff", "1", "--timeout", "10", "--quiet", path],
                               capture_output=True, text=True)
            self.uploading.clear()
            m = re.search(r"extract_id:\s+(\S+)", r.stdout)
            if r.returncode == 0 and m:
                with self.lock:
                    self.accepted[m.group(1)] = feed
                queue.pop(0)
            else:
                self.upload_failures += 1  # the gateway was down throughout: the same file again
                self.stop_uploads.wait(0.5)
            self.stop_uploads.wait(self.args.upload_gap)  # spread over the kills and the outage

    # ---- the phases --------------------------------------------------------------------------

    def sample_all(self, phase=None):
        for p in (self.broker, self.hub, self.gateway):
            p.sample(phase)

    def situation(self):
        """What the gateway is doing now, as far as can be seen from outside."""
        if self.uploading.is_set():
            return "mid-upload"
        with self.lock:
            last = list(self.accepted.items())[-1:]
        if last and (self.status(*last[0]) or {}).get("state") in ("received", "processing"):
            return "mid-processing"
        if (self.metric("svdgw_outbox_batches") or 0) > 0:
            return "mid-delivery"
        return "idle"

    def kill_gateway(self, wanted):
        """Waits (a few seconds at most) for the gateway to be `wanted`, and kills it then or
        whatever it is doing; what it was doing goes into the figures."""
        deadline = time.monotonic() + 5
        kind = self.situation()
        while kind != wanted and time.monotonic() < deadline:
            time.sleep(0.02)
            kind = self.situation()
        self.gateway.kill9()
        kind = "gateway " + kind
        self.kill_kinds[kind] = self.kill_kinds.get(kind, 0) + 1
        self.gateway.start()

    def kills(self):
        rng = random.Random(self.args.seed)
        targets = ["mid-upload", "mid-processing", "mid-delivery", "svdhub", "broker"]
        for i in range(self.args.kills):
            time.sleep(rng.uniform(0.05, self.args.kill_gap))
            self.sample_all("kills")
            target = targets[i % len(targets)]
            if target.startswith("mid-"):
                self.kill_gateway(target)
            elif target == "svdhub":
                self.hub.kill9()
                self.kill_kinds["svdhub"] = self.kill_kinds.get("svdhub", 0) + 1
                self.hub.start()
            else:
                self.broker.kill9()
                self.kill_kinds["broker"] = self.kill_kinds.get("broker", 0) + 1
                self.broker.start()
                # svdhub reconnects by itself; wait so that its next kill finds it connected.
                before = self.hub.ready(self.hub.log_text())
                wait_for("svdhub to reconnect", lambda: self.hub.ready(self.hub.log_text()) > before or
                         not self.hub.alive(), 60)
            if (i + 1) % 20 == 0:
                log("%d kills" % (i + 1))

    def outage(self):
        half = self.args.outage_seconds / 2
        published = self.metric('svdgw_batches_total{stage="published"}') or 0
        log("outage: svdhub away for %d s" % half)
        self.hub.stop()
        self.outage_began.set()
        self.sleep_sampling(half)
        log("outage: the broker away for %d s" % half)
        self.broker.stop()
        self.sleep_sampling(half)
        self.broker.start()
        self.hub.start()
        return published

    def sleep_sampling(self, seconds):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self.sample_all("outage")
            time.sleep(min(1.0, max(0.0, deadline - time.monotonic())))

    def drain(self):
        wait_for("every file to be uploaded", lambda: not self.uploader.is_alive(), 600)
        def done():
            self.sample_all("drain")
            with self.lock:
                pending = dict(self.accepted)
            for extract_id, feed in pending.items():
                s = self.status(extract_id, feed)
                if not s or s["state"] not in ("processed", "refused"):
                    return False
                b = s["batches"]
                if s["state"] == "processed" and b["acknowledged"] != b["total"]:
                    return False
            return self.metric("svdgw_outbox_batches") == 0
        wait_for("the gateway to drain", done, 900, poll=1)

    # ---- the checks --------------------------------------------------------------------------

    def statuses(self):
        """What the gateway says of each accepted extract, once drained (it must still run)."""
        return {extract_id: self.status(extract_id, feed) for extract_id, feed in sorted(self.accepted.items())}

    def check(self, figures, statuses):
        problems = []
        expected = {f: 0 for f in FEEDS}
        batches = 0
        for extract_id, s in statuses.items():
            if not s or s["state"] != "processed":
                problems.append("%s: %s" % (extract_id, s and s["state"]))
                continue
            expected[self.accepted[extract_id]] += s["report"]["rows"]["valid"]
            batches += s["batches"]["total"]
        hub_db = os.path.join(self.hub_dir, "hub.db")
        with sqlite3.connect("file:%s?mode=ro" % hub_db, uri=True) as db:
            stored = {f: db.execute("SELECT count(*) FROM records_%s" % f.replace("-", "_")).fetchone()[0] for f in FEEDS}
            hub_batches = db.execute("SELECT count(*) FROM batches").fetchone()[0]
        for f in FEEDS:
            figures.append(("records of %s: expected / stored at the hub" % f, "%d / %d" % (expected[f], stored[f])))
            if expected[f] != stored[f]:
                problems.append("%s: %d records expected at the hub, %d stored" % (f, expected[f], stored[f]))
        figures.append(("batches: expected / stored at the hub", "%d / %d" % (batches, hub_batches)))
        if batches != hub_batches:
            problems.append("%d batches expected at the hub, %d stored" % (batches, hub_batches))
        with sqlite3.connect("file:%s?mode=ro" % os.path.join(self.dir, "state/outbox.db"), uri=True) as db:
            left = db.execute("SELECT count(*) FROM batches WHERE state <> 2").fetchone()[0]
        figures.append(("batches left in the outbox (not acknowledged)", str(left)))
        if left:
            problems.append("%d batches stranded in the outbox" % left)
        for f in ("state/extracts.db", "state/outbox.db", "state/audit.db", "hub/hub.db"):
            path = os.path.join(self.dir, f)
            with sqlite3.connect("file:%s?mode=ro" % path, uri=True) as db:
                verdict = db.execute("PRAGMA integrity_check").fetchone()[0]
            figures.append(("integrity_check " + f, verdict))
            if verdict != "ok":
                problems.append("%s: integrity_check says %s" % (f, verdict))
        r = subprocess.run([self.svdgw, "audit", "verify", "--config", self.config], capture_output=True, text=True)
        figures.append(("svdgw audit verify", "passed" if r.returncode == 0 else "FAILED"))
        if r.returncode != 0:
            problems.append("svdgw audit verify: " + (r.stdout + r.stderr).strip())
        return problems

    def run(self):
        started = time.monotonic()
        self.set_up()
        log("set up in %s: %d extracts of %d rows" % (self.dir, len(self.extracts), self.args.rows))
        figures, problems, statuses = [], [], {}
        try:
            self.broker.start()
            self.hub.start()
            self.gateway.start()
            self.uploader = threading.Thread(target=self.uploads, daemon=True)
            self.uploader.start()
            log("%d kill -9s" % self.args.kills)
            self.kills()
            published_before = self.outage()
            log("draining")
            self.drain()
            self.stop_uploads.set()
            published_after = self.metric('svdgw_batches_total{stage="published"}') or 0
            statuses = self.statuses()
            figures.append(("kill -9s", str(sum(p.kills for p in (self.broker, self.hub, self.gateway)))))
            for kind, n in sorted(self.kill_kinds.items()):
                figures.append(("  " + kind, str(n)))
            figures.append(("outage (svdhub away, then the broker), seconds", "%d" % self.args.outage_seconds))
            figures.append(("batches published from the outage to the drain (re-sends included)",
                            "%d" % (published_after - published_before)))
            figures.append(("extracts accepted / upload attempts failed", "%d / %d" % (len(self.accepted),
                                                                                      self.upload_failures)))
        finally:
            self.stop_uploads.set()
            for p in (self.gateway, self.hub, self.broker):
                p.stop()
        problems += self.check(figures, statuses)
        for p in (self.gateway, self.hub, self.broker):
            mib = {k: v / 1024 for k, v in p.phase_rss_kib.items()}
            figures.append(("peak RSS of %s, MiB: overall / kills / outage / drain" % p.name, "%.1f / %.1f / %.1f / %.1f" % (
                p.peak_rss_kib / 1024, mib.get("kills", 0), mib.get("outage", 0), mib.get("drain", 0))))
            if p.peak_rss_kib / 1024 > self.args.max_rss_mib:
                problems.append("%s peaked at %.0f MiB, more than --max-rss-mib %d" % (p.name, p.peak_rss_kib / 1024,
                                                                                       self.args.max_rss_mib))
        figures.append(("wall time, seconds", "%d" % (time.monotonic() - started)))
        width = max(len(k) for k, _ in figures)
        print()
        for k, v in figures:
            print("  %-*s  %s" % (width, k, v))
        print()
        for p in problems:
            print("FAILED: " + p)
        print("soak: " + ("passed" if not problems else "%d problem(s)" % len(problems)))
        return 1 if problems else 0


_given_ports = set()


def free_port():
    """A port on 127.0.0.1 free a moment ago, never the same one twice (the kernel may hand out
    the port it just gave back again)."""
    import socket
    while True:
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        if port not in _given_ports:
            _given_ports.add(port)
            return port


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--ci", action="store_true", help="the two-minute version: 15 kills, a 20-second outage")
    ap.add_argument("--kills", type=int, default=100)
    ap.add_argument("--outage-seconds", type=int, default=3600)
    ap.add_argument("--receipt-timeout", type=int, default=10, help="the gateway's receipt_timeout_seconds")
    ap.add_argument("--extracts", type=int, default=130)
    ap.add_argument("--rows", type=int, default=3000)
    ap.add_argument("--kill-gap", type=float, default=2.0, help="at most this many seconds between kills")
    ap.add_argument("--upload-gap", type=float, default=30.0,
                    help="seconds between one extract's acceptance and the next upload")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--max-rss-mib", type=int, default=1024, help="fail when a process's peak RSS exceeds this")
    ap.add_argument("--out", default=os.path.join(ROOT, "out", "soak"))
    args = ap.parse_args()
    if args.ci:
        args.kills, args.outage_seconds, args.receipt_timeout = 15, 20, 5
        args.extracts, args.rows, args.kill_gap, args.upload_gap = 30, 1500, 1.0, 0.6
    try:
        return Soak(args).run()
    except SetupError as e:
        print("soak: " + str(e), file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
