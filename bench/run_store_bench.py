#!/usr/bin/python3
"""Hub store ingest benchmark: svdhub storing a large ED extract delivered through mosquitto with
mutual TLS, from one gateway and from the same rows split over ten gateways sending at once, into
each store backend (SQLite and PostgreSQL); beside it, in the same run, PostgreSQL's own COPY of
the same rows from a CSV file into a copy of the same table. Prints a markdown table.

  bench/run_store_bench.py [--rows 1000000] [--gateways 10] [--runs 3] [--build-dir build]
                           [--work DIR] [--keep] [--max-pending-bytes 67108864] [--pg-stats]
                           [--backends sqlite,postgresql] [--timeout 900]

What is measured
  ingest:   the hub, not the gateways. Each gateway first processes its extract into its outbox
            with the broker unreachable (`svdgw forward --timeout 1` against a closed port: exit 3,
            every batch left queued); that happens once per scenario, and each timed delivery
            starts from a byte-for-byte copy of those outboxes. The timer then starts when the
            first of the gateways' `svdgw forward` processes is spawned (all are spawned at once)
            and stops when the last of them exits, which `svdgw forward` does after the hub's
            receipt for its last batch, and the hub answers only after the commit. So it spans:
            each gateway's start, mTLS connect and subscribe, publishing every queued batch (QoS 1,
            [hub] inflight and window at their defaults), the broker, svdhub verifying, storing
            and committing every record, and the receipts coming back. `svdgw forward` needs an
            extract to process first: it is given one row of empty cells (milliseconds), which is
            rejected, and its config accepts an extract whatever share of it is rejected
            (reject_threshold = 1.0, the only difference from the config that filled the outbox),
            so it adds one empty batch per gateway and no record. Rows/s = records stored / that time;
            `svdhub stats` is checked to hold exactly the valid rows after each delivery.
  RSS:      VmHWM of svdhub (/proc/PID/status), read after the last gateway exits and before that
            svdhub is stopped. Each scenario gets a fresh svdhub and an empty store, so the peak is
            that scenario's own. Goal: at most [broker] max_pending_bytes + 32 MiB under the
            ten-gateway load.
  COPY:     after each PostgreSQL delivery, the rows svdhub stored are exported with
            `COPY (SELECT * FROM records_ed_extract) TO 'FILE' CSV` (the same columns and values,
            _received_at included), a table `records_copy (LIKE records_ed_extract INCLUDING ALL)`
            (the same columns, types and indexes) is created and committed, a CHECKPOINT is taken,
            and then `COPY records_copy FROM 'FILE' CSV` is timed: server-side COPY (the server
            reads the file itself; no client, no network), its time as psql's \\timing reports it.
            The ratio in the table is svdhub's rows/s over the median COPY rows/s of the whole
            benchmark. Goal: PostgreSQL ingest at least 70 % of COPY's rate.

  report:   after each one-gateway delivery, `svdhub report --person-level` over the whole extract's
            dates, timed from spawn to exit, its peak RSS from wait4; the one feed is both the death
            feed and the violence feed, so every record is read twice, linked and counted. Beside
            it, the same five columns of the feed's linked view read by the database's own client
            (sqlite3 to /dev/null; PostgreSQL's server-side COPY to /dev/null): what reading alone
            costs. No goal: the figure says how long the force waits for a report on 1M records.

Setup: scripts/local-hub.sh starts mosquitto (the production config and ACL) with a test PKI that
has a client certificate per gateway (`store-bench-01` ... `-NN`, each its own partner with its own
state_dir). For each scenario this script writes the hub's svdhub.toml (every partner listed with
feeds = ["ed-extract"], [broker] max_pending_bytes written out) and `local-hub.sh reset-store`
starts a fresh svdhub on it. PostgreSQL 15 is a throwaway cluster made here by initdb (run as
`nobody` through setpriv when we are root), on a free 127.0.0.1 port, stopped by the PID started;
svdhub connects over TCP as a role of its own with the password in [store] password_file
(sslmode=disable on loopback; the database is dropped and made again before each scenario). The
extract is made by the benchmark kit's generator (bench/benchlib.py) and cached with its slices in the work
directory; outboxes, both stores, the cluster and the broker's files go to /dev/shm when it exists
(like bench/run_forward_bench.py), so the figures are the programs', not this machine's disk. Both
stores still commit as shipped: SQLite with synchronous=FULL, PostgreSQL with fsync on.

Runs: 3 by default, the backend order alternating between runs, medians compared: the machine
these figures come from has 2 cores and is shared, and a median of three keeps one disturbed
delivery from deciding the result. At 1,000,000 rows a run takes about five minutes today, most
of it the SQLite deliveries; --runs 1 gives a first look.

Also printed, to explain the figures: CPU seconds of each process during each delivery (svdgw
from wait4, svdhub and mosquitto from /proc, PostgreSQL as its postmaster with every backend);
svdhub's RSS split into heap, mapped files and shared memory, idle and at its largest sample; the
1-minute load average as each run starts. With --pg-stats the cluster loads pg_stat_statements:
the share of each delivery PostgreSQL spent inside svdhub's COPY statements, and its costliest
statements (a per-statement counter, so it costs the per-row work nothing).
"""
import argparse
import base64
import csv
import hashlib
import hmac
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time

import benchlib
from benchlib import HERE, LOCAL_HUB, ROOT, SHARED_BENCH, extract, fail, local_hub, programs, tail, toml_string

benchlib.set_name("run_store_bench")

SCHEMA = os.path.join(HERE, "schemas", "ed-extract.json")
FEED = "ed-extract"
TABLE = "records_ed_extract"
COPY_TABLE = "records_copy"
PARTNER_PREFIX = "store-bench-"
PG_BINDIR = "/usr/lib/postgresql/15/bin"
# `svdhub report` over every record: the extract generator dates arrivals in 2023 and 2024.
REPORT_FROM, REPORT_TO = "2023-01-01", "2024-12-31"
REPORT_COLUMNS = "_partner, arrival_datetime, postcode_district, nhs_number_token, person_token"
PG_DATABASE = "svdhub"
PG_ROLE = "svdhub"
PG_SUPERUSER = "svd_super"
DEFAULT_MAX_PENDING = 64 << 20  # svdhub's default, written out so the budget printed is the one in force
RSS_SLACK = 32 << 20
RATIO_GOAL = 0.70





def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def proc_stat(pid):
    """The fields of /proc/PID/stat after the command name, or None."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def cpu_seconds(pid, reaped_children=False):
    """User + system CPU seconds of PID so far (with its reaped children's, if asked), or None."""
    fields = proc_stat(pid)
    if fields is None:
        return None
    ticks = int(fields[11]) + int(fields[12])
    if reaped_children:
        ticks += int(fields[13]) + int(fields[14])
    return ticks / os.sysconf("SC_CLK_TCK")


def vm_hwm_mib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return None


def rss_parts_mib(pid):
    """{VmRSS, RssAnon, RssFile, RssShmem} of PID in MiB, or None."""
    parts = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                key = line.split(":", 1)[0]
                if key in ("VmRSS", "RssAnon", "RssFile", "RssShmem"):
                    parts[key] = int(line.split()[1]) / 1024.0
    except OSError:
        return None
    return parts if len(parts) == 4 else None


class RssSampler:
    """Samples PID's resident set every 50 ms in a thread: VmHWM says how high it went, the
    sample at the highest VmRSS says of what (heap, mapped files, shared memory)."""

    def __init__(self, pid):
        self.pid, self.peak, self.done = pid, None, threading.Event()
        self.thread = threading.Thread(target=self.loop, daemon=True)
        self.thread.start()

    def loop(self):
        while not self.done.wait(0.05):
            parts = rss_parts_mib(self.pid)
            if parts and (self.peak is None or parts["VmRSS"] > self.peak["VmRSS"]):
                self.peak = parts

    def stop(self):
        self.done.set()
        self.thread.join()
        return self.peak


def read_pid(path):
    try:
        with open(path) as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return None




def slices(work, whole, rows, n):
    """The extract's rows cut into n files of consecutive rows, each with the header (cached)."""
    paths = [os.path.join(work, f"ed-{rows}-part{i + 1:02d}of{n:02d}.csv") for i in range(n)]
    if all(os.path.exists(p) for p in paths):
        return paths
    with open(whole, newline="") as f:
        header = f.readline()
        lines = f.readlines()
    # Cutting by line keeps every row's bytes as they are; that holds only if no quoted cell
    # spans lines, which the CSV reader tells.
    with open(whole, newline="") as f:
        records = sum(1 for _ in csv.reader(f)) - 1
    if records != len(lines):
        fail(f"{whole}: {records} CSV records on {len(lines)} lines; cannot cut it by line")
    for i, p in enumerate(paths):
        with open(p + ".tmp", "w", newline="") as out:
            out.write(header)
            out.writelines(lines[len(lines) * i // n:len(lines) * (i + 1) // n])
        os.rename(p + ".tmp", p)
    return paths


def scram_verifier(password):
    """The SCRAM-SHA-256 verifier PostgreSQL stores for `password`: the role is made with it, so no
    statement the server sees holds the password itself."""
    salt, iterations = os.urandom(16), 4096
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
    b64 = lambda b: base64.b64encode(b).decode()
    return f"SCRAM-SHA-256${iterations}:{b64(salt)}${b64(hashlib.sha256(client_key).digest())}:{b64(server_key)}"


class Postgres:
    """A throwaway PostgreSQL 15 cluster in DIR, on 127.0.0.1:PORT. The superuser logs in over the
    Unix socket in DIR only (trust); TCP needs a SCRAM password."""

    def __init__(self, directory, pg_stats):
        self.dir = directory
        self.data = os.path.join(directory, "data")
        self.sock = os.path.join(directory, "sock")
        self.files = os.path.join(directory, "files")  # server-side COPY files: the server's user writes here
        self.log = os.path.join(directory, "postgres.log")
        self.pg_stats = pg_stats
        self.proc = None
        self.port = None
        self.as_server = []
        self.uid = self.gid = None
        for b in ("initdb", "postgres"):
            if not os.access(os.path.join(PG_BINDIR, b), os.X_OK):
                fail(f"{PG_BINDIR}/{b} not found (deploy/install-deps.sh installs postgresql-15)")
        if shutil.which("psql") is None:
            fail("psql not found (postgresql-client-15)")
        os.makedirs(self.sock)
        os.makedirs(self.files)
        if os.geteuid() == 0:
            # initdb and postgres refuse to run as root: as `nobody`, which owns nothing else here.
            setpriv = shutil.which("setpriv") or fail("running as root needs setpriv (util-linux)")
            import pwd
            try:
                pw = pwd.getpwnam("nobody")
                self.uid, self.gid = pw.pw_uid, pw.pw_gid
            except KeyError:
                self.uid = self.gid = 65534
            self.as_server = [setpriv, f"--reuid={self.uid}", f"--regid={self.gid}", "--clear-groups",
                              "--pdeathsig", "KILL", "--"]
            for p in (directory, self.sock, self.files):
                os.chown(p, self.uid, self.gid)
        os.chmod(directory, 0o700)
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("PG", "LC_", "LANG"))}
        self.env.update(LC_ALL="C", LANG="C")
        p = subprocess.run(self.as_server + [os.path.join(PG_BINDIR, "initdb"), "-D", self.data, "-U", PG_SUPERUSER,
                                             "--auth-local=trust", "--auth-host=scram-sha-256", "--encoding=UTF8",
                                             "--locale=C", "--no-sync", "--no-instructions"],
                           capture_output=True, text=True, env=self.env)
        if p.returncode != 0:
            fail(f"initdb failed ({p.returncode}):\n{p.stdout}{p.stderr}")

    def start(self):
        for attempt in range(5):
            self.port = free_port()
            argv = self.as_server + [os.path.join(PG_BINDIR, "postgres"), "-D", self.data, "-p", str(self.port),
                                     "-c", "listen_addresses=127.0.0.1", "-k", self.sock]
            if self.pg_stats:
                argv += ["-c", "shared_preload_libraries=pg_stat_statements", "-c", "pg_stat_statements.track=all"]
            offset = os.path.getsize(self.log) if os.path.exists(self.log) else 0
            with open(self.log, "ab") as log:
                # setpriv execs: this PID is the postmaster's, the one stop() signals.
                self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=self.env,
                                             start_new_session=True)
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    break
                if self.ready():
                    return
                time.sleep(0.1)
            with open(self.log, errors="replace") as f:
                f.seek(offset)
                why = f.read()
            self.stop()
            if "could not bind" in why or "could not create any TCP/IP sockets" in why:
                continue  # the port was taken between picking and binding
            fail(f"PostgreSQL did not start:\n{why[-3000:]}")
        fail("PostgreSQL: no free port after 5 tries")

    def ready(self):
        try:
            with open(os.path.join(self.data, "postmaster.pid")) as f:
                lines = f.read().splitlines()
        except OSError:
            return False
        if len(lines) < 8 or lines[0] != str(self.proc.pid) or not lines[7].startswith("ready"):
            return False
        return subprocess.run(["pg_isready", "-q", "-h", "127.0.0.1", "-p", str(self.port)],
                              env=self.env).returncode == 0

    def stop(self):
        """Fast shutdown (SIGINT) of the postmaster started here; SIGKILL if it does not end."""
        if self.proc is None or self.proc.poll() is not None:
            self.proc = None
            return
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    def cpu_seconds(self):
        """CPU seconds of the postmaster, its reaped children and its living ones (the backends)."""
        if self.proc is None:
            return None
        total = cpu_seconds(self.proc.pid, reaped_children=True)
        if total is None:
            return None
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                fields = proc_stat(entry)
                if fields and fields[1] == str(self.proc.pid):
                    total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        return total

    def psql(self, sql, db="postgres", timing=False):
        """Runs SQL as the superuser over the socket; returns psql's output (tuples only, unaligned)."""
        script = ("\\timing on\n" if timing else "") + sql + "\n"
        p = subprocess.run(["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", self.sock,
                            "-p", str(self.port), "-U", PG_SUPERUSER, "-d", db],
                           input=script, capture_output=True, text=True, env=self.env)
        if p.returncode != 0:
            fail(f"psql failed ({p.returncode}) on:\n{sql}\n{p.stdout}{p.stderr}")
        return p.stdout

    def make_role(self, password_file):
        password = os.urandom(18).hex()
        fd = os.open(password_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(password + "\n")
        self.psql(f"CREATE ROLE {PG_ROLE} LOGIN PASSWORD '{scram_verifier(password)}'")

    def fresh_database(self):
        self.psql(f"DROP DATABASE IF EXISTS {PG_DATABASE} WITH (FORCE)")
        self.psql(f"CREATE DATABASE {PG_DATABASE} OWNER {PG_ROLE}")
        if self.pg_stats:
            self.psql("CREATE EXTENSION IF NOT EXISTS pg_stat_statements", db=PG_DATABASE)

    def settings(self):
        out = self.psql("SELECT name || '=' || setting || coalesce(unit, '') FROM pg_settings WHERE name IN "
                        "('shared_buffers', 'max_wal_size', 'fsync', 'synchronous_commit', 'wal_level', "
                        "'server_version') ORDER BY name")
        return ", ".join(out.split())


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=1_000_000, help="rows in the generated extract")
    ap.add_argument("--gateways", type=int, default=10, help="gateways of the many-gateway scenario")
    ap.add_argument("--runs", type=int, default=3, help="runs of every scenario; medians compared")
    ap.add_argument("--build-dir", default=os.path.join(ROOT, "build"), help="where svdgw and svdhub are built")
    ap.add_argument("--work", default=None, help="extract cache (default: BUILD_DIR/bench-work)")
    ap.add_argument("--keep", action="store_true", help="keep the scratch directory (configs, logs, stores)")
    ap.add_argument("--timeout", type=int, default=900, help="svdgw forward --timeout of a delivery, seconds")
    ap.add_argument("--max-pending-bytes", type=int, default=DEFAULT_MAX_PENDING,
                    help="svdhub's [broker] max_pending_bytes (default: svdhub's own, 64 MiB)")
    ap.add_argument("--backends", default="sqlite,postgresql", help="comma-separated: sqlite, postgresql")
    ap.add_argument("--pg-stats", action="store_true",
                    help="load pg_stat_statements and print svdhub's costliest statements after each delivery")
    a = ap.parse_args()
    if a.rows < a.gateways or a.runs < 1 or a.gateways < 2 or a.gateways > 99:
        fail("--runs must be at least 1, --gateways 2 to 99, --rows at least --gateways")
    backends = [b for b in a.backends.split(",") if b]
    if not backends or any(b not in ("sqlite", "postgresql") for b in backends):
        fail("--backends takes sqlite and/or postgresql")

    build_dir = os.path.abspath(a.build_dir)
    svdgw, svdhub = programs(build_dir)
    if not os.path.exists(os.path.join(SHARED_BENCH, "gen_ed_extract.py")):
        fail(f"{os.path.join(SHARED_BENCH, 'gen_ed_extract.py')} not found")

    work = os.path.abspath(a.work or os.path.join(build_dir, "bench-work"))
    os.makedirs(work, exist_ok=True)
    whole = extract(work, a.rows)
    parts = slices(work, whole, a.rows, a.gateways)
    size_mib = os.path.getsize(whole) / 2**20

    scratch_root = "/dev/shm" if os.path.isdir("/dev/shm") else work
    scratch = os.path.join(scratch_root, f"svd-store-bench-{os.getpid()}")
    os.makedirs(scratch)
    os.chmod(scratch, 0o755)  # the PostgreSQL server's user must reach its directory inside
    hub_dir = os.path.join(scratch, "hub")
    hub_started = False
    pg = None
    # `finally` below stops the hub and the cluster; make a plain `kill` of the benchmark go through it too.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    partners = [f"{PARTNER_PREFIX}{i + 1:02d}" for i in range(a.gateways)]
    results = []  # one dict per delivery
    copies = []   # one dict per COPY
    reports = []  # one dict per `svdhub report`
    loads = []    # the 1-minute load average as each run starts: the machine may be shared
    try:
        # ---- gateways' configs: bench/bench.toml with its partner, state_dir and [hub] -------------
        cfg_dir = os.path.join(scratch, "cfg")
        shutil.copytree(os.path.join(HERE, "schemas"), os.path.join(cfg_dir, "schemas"))
        with open(os.path.join(HERE, "bench.toml")) as f:
            base_toml = f.read()
        for key in ("partner", "state_dir", "reject_threshold"):
            if not re.search(rf"^{key}\s*=.*$", base_toml, re.M):
                fail(f"no {key} line in bench/bench.toml")
        subprocess.run([svdgw, "keys", "generate", "--out", os.path.join(cfg_dir, "linkage.key")], check=True,
                       stdout=subprocess.DEVNULL)
        pki = os.path.join(hub_dir, "pki")

        def gateway_config(partner, state_dir, port, tag, accept_anything=False):
            text = re.sub(r"^partner\s*=.*$", lambda _: f'partner = "{partner}"', base_toml, count=1, flags=re.M)
            if accept_anything:
                text = re.sub(r"^reject_threshold\s*=.*$", "reject_threshold = 1.0", text, count=1, flags=re.M)
            text = re.sub(r"^state_dir\s*=.*$", lambda _: f"state_dir = {toml_string(state_dir)}", text, count=1,
                          flags=re.M)
            text += (f"\n[hub]\nhost = \"localhost\"\nport = {port}\n"
                     f"ca = {toml_string(os.path.join(pki, 'ca.crt'))}\n"
                     f"cert = {toml_string(os.path.join(pki, 'clients', partner + '.crt'))}\n"
                     f"key = {toml_string(os.path.join(pki, 'clients', partner + '.key'))}\n")
            path = os.path.join(cfg_dir, f"{partner}-{tag}.toml")
            with open(path, "w") as f:
                f.write(text)
            return path

        # ---- the broker and the PKI ----------------------------------------------------------------
        print(f"starting mosquitto with a test PKI for {a.gateways} gateways in {hub_dir} …", file=sys.stderr)
        hub_started = True  # from here on, stop it whatever happens
        local_hub(build_dir, "start", hub_dir, *[x for p in partners for x in ("--gateway", p)],
                  "--feed", f"{FEED}={SCHEMA}")
        with open(os.path.join(hub_dir, "port")) as f:
            port = int(f.read().strip())
        mosquitto_pid = read_pid(os.path.join(hub_dir, "mosquitto.pid"))
        mosquitto_version = subprocess.run(["sh", "-c", "mosquitto -h 2>&1 | head -n 1"], capture_output=True,
                                           text=True).stdout.strip()
        hub_config = os.path.join(hub_dir, "svdhub.toml")
        hub_log = os.path.join(hub_dir, "svdhub.log")

        # ---- PostgreSQL ----------------------------------------------------------------------------
        pg_password = os.path.join(scratch, "svdhub-db.password")
        if "postgresql" in backends:
            print("starting a PostgreSQL 15 cluster …", file=sys.stderr)
            pg = Postgres(os.path.join(scratch, "pg"), a.pg_stats)
            pg.start()
            pg.make_role(pg_password)

        def write_hub_config(backend):
            lines = ["# Written by bench/run_store_bench.py.", "[store]"]
            if backend == "postgresql":
                lines += ['backend = "postgresql"',
                          f"conninfo = \"host=127.0.0.1 port={pg.port} dbname={PG_DATABASE} user={PG_ROLE} "
                          f"sslmode=disable\"",
                          f"password_file = {toml_string(pg_password)}"]
            lines += [f"database = {toml_string(os.path.join(hub_dir, 'hub.db'))}", "",
                      "[broker]", 'host = "localhost"', f"port = {port}",
                      f"ca = {toml_string(os.path.join(pki, 'ca.crt'))}",
                      f"cert = {toml_string(os.path.join(pki, 'clients', 'svdhub.crt'))}",
                      f"key = {toml_string(os.path.join(pki, 'clients', 'svdhub.key'))}",
                      'client_id = "svdhub"', 'mqtt = "3.1.1"', f"max_pending_bytes = {a.max_pending_bytes}",
                      "", "[[feed]]", f'id = "{FEED}"', f"schema = {toml_string(SCHEMA)}"]
            for p in partners:
                lines += ["", "[[partner]]", f'id = "{p}"', f'feeds = ["{FEED}"]']
            # For `svdhub report` after the delivery (not read by svdhub run): the one feed is both the
            # death feed and the violence feed, so every record is read, linked and counted.
            lines += ["", "[report]", f'death_feed = "{FEED}"', f'violence_feeds = ["{FEED}"]']
            with open(hub_config, "w") as f:
                f.write("\n".join(lines) + "\n")

        def hub_counts(backend):
            """(records, batches) of FEED that `svdhub stats` shows."""
            p = subprocess.run([svdhub, "stats", "--config", hub_config], capture_output=True, text=True)
            if p.returncode != 0:
                fail(f"svdhub stats failed ({p.returncode}):\n{p.stdout}{p.stderr}")
            m = re.search(rf"^\s*feed {re.escape(FEED)}: ([\d,]+) records? in ([\d,]+) batch(?:es)?", p.stdout, re.M)
            if not m:
                fail(f"cannot read the count of feed {FEED} from `svdhub stats` ({backend}):\n{p.stdout}")
            return int(m.group(1).replace(",", "")), int(m.group(2).replace(",", ""))

        # ---- each scenario's outboxes, filled once with the broker unreachable ------------------------
        closed_port = free_port()  # nothing listens there: every connect is refused at once
        # What the timed `svdgw forward` processes before it delivers: svdgw refuses an extract with
        # no rows, so one row of empty cells, rejected; the delivery configs accept an extract
        # whatever its rejected share (reject_threshold = 1.0), and it yields one empty batch.
        trigger = os.path.join(scratch, "empty-row.csv")
        with open(whole, newline="") as f, open(trigger, "w", newline="") as out:
            header = f.readline()
            out.write(header + "," * header.count(",") + "\n")

        def fill_outboxes(name, files):
            """Processes file i into gateway i's outbox; returns (template dir, records queued per gateway)."""
            template = os.path.join(scratch, "outboxes", name)
            jobs = []
            for partner, path in zip(partners, files):
                state = os.path.join(template, partner)
                config = gateway_config(partner, state, closed_port, f"fill-{name}")
                jobs.append((partner, [svdgw, "forward", "--config", config, "--feed", FEED, "--timeout", "1",
                                       "--quiet", path]))
            queued = {}
            running = []

            def reap(entry):
                partner, proc = entry
                out, err = proc.communicate()
                m = re.search(r"([\d]+) batch\(es\), ([\d]+) record\(s\) wait in the outbox", err)
                if proc.returncode != 3 or not m:
                    fail(f"filling {partner}'s outbox: svdgw forward exited {proc.returncode}, expected 3 with "
                         f"every batch queued:\n{out}{err}")
                queued[partner] = int(m.group(2))

            for partner, argv in jobs:  # two at a time: one per core
                if len(running) == 2:
                    reap(running.pop(0))
                running.append((partner, subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                                          text=True)))
            for entry in running:
                reap(entry)
            return template, [queued[p] for p in partners[:len(files)]]

        print(f"processing the extract into the outboxes (broker unreachable) …", file=sys.stderr)
        scenarios = [("1 gateway", *fill_outboxes("one", [whole])),
                     (f"{a.gateways} gateways", *fill_outboxes("many", parts))]
        valid = sum(scenarios[0][2])
        if sum(scenarios[1][2]) != valid:
            fail(f"the {a.gateways} slices queued {sum(scenarios[1][2]):,} records, the whole extract {valid:,}")

        # ---- one timed delivery ----------------------------------------------------------------------
        def deliver(run, scenario, backend):
            name, template, queued = scenario
            label = f"run {run}, {name}, {backend}"
            if backend == "postgresql":
                pg.fresh_database()
            write_hub_config(backend)
            local_hub(build_dir, "reset-store", hub_dir)  # a fresh svdhub, an empty store
            hub_pid = read_pid(os.path.join(hub_dir, "svdhub.pid"))
            if hub_pid is None:
                fail("no svdhub.pid after reset-store")
            if backend == "postgresql":
                pg.psql("CHECKPOINT")  # the previous step's dirty pages are not this delivery's to write
                if a.pg_stats:
                    pg.psql("SELECT pg_stat_statements_reset()", db=PG_DATABASE)
            n = len(queued)
            states = os.path.join(scratch, "state", f"run{run}-{backend}-{n}")
            argvs = []
            for partner in partners[:n]:
                state = os.path.join(states, partner)
                shutil.copytree(os.path.join(template, partner), state)
                config = gateway_config(partner, state, port, "deliver", accept_anything=True)
                argvs.append([svdgw, "forward", "--config", config, "--feed", FEED, "--timeout", str(a.timeout),
                              "--quiet", trigger])
            log_offset = os.path.getsize(hub_log)
            hub_cpu0, broker_cpu0 = cpu_seconds(hub_pid), cpu_seconds(mosquitto_pid)
            pg_cpu0 = pg.cpu_seconds() if backend == "postgresql" else None
            ends = [None] * n
            statuses = [None] * n
            idle = rss_parts_mib(hub_pid)
            sampler = RssSampler(hub_pid)

            def wait_for(i, pid):
                _, status, usage = os.wait4(pid, 0)
                ends[i] = time.perf_counter()
                statuses[i] = (os.waitstatus_to_exitcode(status), usage.ru_utime + usage.ru_stime)

            logs = [os.path.join(states, f"{p}.log") for p in partners[:n]]
            waiters = []
            t0 = time.perf_counter()
            for i, argv in enumerate(argvs):
                actions = [(os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
                           (os.POSIX_SPAWN_OPEN, 1, logs[i], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644),
                           (os.POSIX_SPAWN_DUP2, 1, 2)]
                pid = os.posix_spawn(argv[0], argv, os.environ, file_actions=actions)
                w = threading.Thread(target=wait_for, args=(i, pid), daemon=True)
                w.start()
                waiters.append(w)
            for w in waiters:
                w.join()
            seconds = max(ends) - t0
            cpu = {"svdgw": sum(s[1] for s in statuses),
                   "svdhub": (cpu_seconds(hub_pid) or float("nan")) - (hub_cpu0 or float("nan")),
                   "mosquitto": (cpu_seconds(mosquitto_pid) or float("nan")) - (broker_cpu0 or float("nan"))}
            if backend == "postgresql":
                cpu["postgres"] = (pg.cpu_seconds() or float("nan")) - (pg_cpu0 or float("nan"))
            rss = vm_hwm_mib(hub_pid)  # before anything stops this svdhub
            rss_at_peak = sampler.stop()
            for i, (code, _) in enumerate(statuses):
                if code != 0:
                    fail(f"{label}: svdgw forward of {partners[i]} exited {code} (log {logs[i]}):\n{tail(logs[i])}\n"
                         f"svdhub log ({hub_log}):\n{tail(hub_log, 10)}")
            stored, batches = hub_counts(backend)
            if stored != valid:
                fail(f"{label}: svdhub stored {stored:,} records of feed {FEED}, expected {valid:,}")
            with open(hub_log, "rb") as f:
                f.seek(log_offset)
                hub_lines = f.read().decode(errors="replace")
            result = {"run": run, "scenario": name, "gateways": n, "backend": backend, "s": seconds,
                      "stored": stored, "batches": batches, "rss_mib": rss, "rss_at_peak": rss_at_peak, "rss_idle": idle, "cpu": cpu,
                      "duplicates": hub_lines.count(": duplicate"), "rejected": hub_lines.count(": rejected"),
                      "first_exit_s": min(ends) - t0}
            if backend == "postgresql" and a.pg_stats:
                result["copy_statement_s"] = float(pg.psql(
                    "SELECT coalesce(sum(total_exec_time), 0) / 1000 FROM pg_stat_statements "
                    "WHERE query LIKE 'COPY %' AND dbid = (SELECT oid FROM pg_database WHERE datname = current_database())",
                    db=PG_DATABASE).strip())
                result["top_statements"] = pg.psql(
                    "SELECT round(total_exec_time::numeric, 0) || ' ms, ' || calls || ' calls: ' || "
                    "left(regexp_replace(query, '\\s+', ' ', 'g'), 90) FROM pg_stat_statements "
                    "ORDER BY total_exec_time DESC LIMIT 6", db=PG_DATABASE).strip()
            shutil.rmtree(states, ignore_errors=True)
            print(f"  {label}: {stored:,} records in {seconds:.2f} s ({stored / seconds:,.0f}/s), svdhub peak RSS "
                  f"{rss:.1f} MiB, CPU s " + ", ".join(f"{k} {v:.1f}" for k, v in cpu.items()), file=sys.stderr)
            return result

        def copy_baseline(run, scenario_name):
            """PostgreSQL's own COPY of the rows svdhub just stored, from a CSV file, into a copy of the table."""
            csv_file = os.path.join(pg.files, "records.csv")
            pg.psql(f"COPY (SELECT * FROM {TABLE}) TO '{csv_file}' CSV", db=PG_DATABASE)
            pg.psql(f"DROP TABLE IF EXISTS {COPY_TABLE}; CREATE TABLE {COPY_TABLE} (LIKE {TABLE} INCLUDING ALL)",
                    db=PG_DATABASE)
            indexes = pg.psql(f"SELECT count(*) FILTER (WHERE tablename = '{TABLE}') || ' ' || "
                              f"count(*) FILTER (WHERE tablename = '{COPY_TABLE}') FROM pg_indexes",
                              db=PG_DATABASE).split()
            if indexes[0] != indexes[1]:
                fail(f"{COPY_TABLE} has {indexes[1]} indexes, {TABLE} {indexes[0]}")
            pg.psql("CHECKPOINT")
            t0 = time.perf_counter()
            out = pg.psql(f"COPY {COPY_TABLE} FROM '{csv_file}' CSV", db=PG_DATABASE, timing=True)
            wall = time.perf_counter() - t0
            m = re.search(r"Time: ([\d.]+) ms", out)
            if not m:
                fail(f"no \\timing line from psql:\n{out}")
            seconds = float(m.group(1)) / 1000.0
            copied = int(pg.psql(f"SELECT count(*) FROM {COPY_TABLE}", db=PG_DATABASE).strip())
            if copied != valid:
                fail(f"COPY stored {copied:,} rows, expected {valid:,}")
            csv_mib = os.path.getsize(csv_file) / 2**20
            os.remove(csv_file)
            pg.psql(f"DROP TABLE {COPY_TABLE}", db=PG_DATABASE)
            print(f"  run {run}, COPY after {scenario_name}: {copied:,} rows in {seconds:.2f} s "
                  f"({copied / seconds:,.0f}/s; psql wall {wall:.2f} s)", file=sys.stderr)
            return {"run": run, "after": scenario_name, "s": seconds, "rows": copied, "indexes": int(indexes[0]),
                    "csv_mib": csv_mib}

        def report_time(run, backend):
            """`svdhub report --person-level` over the whole extract's dates, against the store just filled,
            beside a plain read of the same columns of the same view by the database's own client."""
            out = os.path.join(scratch, "report")
            shutil.rmtree(out, ignore_errors=True)
            argv = [svdhub, "report", "--config", hub_config, "--from", REPORT_FROM, "--to", REPORT_TO, "--out", out,
                    "--person-level"]
            t0 = time.perf_counter()
            pid = os.posix_spawn(svdhub, argv, os.environ, file_actions=[
                (os.POSIX_SPAWN_OPEN, 1, os.path.join(scratch, "report.log"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC,
                 0o644), (os.POSIX_SPAWN_DUP2, 1, 2)])
            _, status, usage = os.wait4(pid, 0)
            seconds = time.perf_counter() - t0
            if os.waitstatus_to_exitcode(status) != 0:
                fail(f"svdhub report failed:\n{tail(os.path.join(scratch, 'report.log'))}")
            with open(os.path.join(scratch, "report.log")) as f:
                said = f.read()
            m = re.search(r"tokens of (\d+) record", said)
            person_rows = int(m.group(1)) if m else None
            select = f"SELECT {REPORT_COLUMNS} FROM {TABLE}_linked"
            t0 = time.perf_counter()
            if backend == "postgresql":
                pg.psql(f"COPY ({select}) TO '/dev/null'", db=PG_DATABASE)
            else:
                with open(os.devnull, "w") as null:
                    subprocess.run(["sqlite3", "-readonly", os.path.join(hub_dir, "hub.db"), select], stdout=null,
                                   check=True)
            read_s = time.perf_counter() - t0
            print(f"  run {run}, report, {backend}: {seconds:.2f} s (plain read {read_s:.2f} s), peak RSS "
                  f"{usage.ru_maxrss / 1024:.1f} MiB, {person_rows} person-level rows", file=sys.stderr)
            return {"run": run, "backend": backend, "s": seconds, "read_s": read_s, "rss_mib": usage.ru_maxrss / 1024,
                    "person_rows": person_rows}

        pg_settings = pg.settings() if pg else ""
        for run in range(1, a.runs + 1):
            order = backends if run % 2 == 1 else list(reversed(backends))
            loads.append(os.getloadavg()[0])
            print(f"run {run}/{a.runs}: {', then '.join(order)} (load {loads[-1]:.2f}) …", file=sys.stderr)
            for backend in order:
                for scenario in scenarios:
                    results.append(deliver(run, scenario, backend))
                    if scenario is scenarios[0]:
                        reports.append(report_time(run, backend))
                    if backend == "postgresql":
                        copies.append(copy_baseline(run, scenario[0]))
    finally:
        if hub_started and os.path.isdir(hub_dir):
            subprocess.run(["sh", LOCAL_HUB, "stop", hub_dir], stdout=subprocess.DEVNULL)
        if pg is not None:
            pg.stop()
        if a.keep:
            print(f"kept {scratch}", file=sys.stderr)
        else:
            shutil.rmtree(scratch, ignore_errors=True)

    # ---- the table ---------------------------------------------------------------------------------
    copy_rate = statistics.median(c["rows"] / c["s"] for c in copies) if copies else None
    budget_mib = a.max_pending_bytes / 2**20
    limit_mib = (a.max_pending_bytes + RSS_SLACK) / 2**20
    print(f"svd-gateway hub store ingest benchmark: {a.rows:,}-row ED extract ({size_mib:.0f} MiB), {valid:,} valid "
          f"rows stored per delivery; {os.cpu_count()} cores; outboxes, stores and broker files on {scratch_root}")
    print(f"broker: {mosquitto_version or 'mosquitto'} on 127.0.0.1, mutual TLS (EC P-256), MQTT 3.1.1, QoS 1; "
          f"svdhub [broker] max_pending_bytes = {a.max_pending_bytes:,} ({budget_mib:.0f} MiB)")
    if pg_settings:
        print(f"PostgreSQL: {pg_settings}")
    print(f"{a.runs} run(s); seconds and rows/s are medians, peak RSS the largest of the runs; load average as "
          f"each run started: {', '.join(format(l, '.2f') for l in loads)}")
    print()
    print("| scenario | backend | rows | seconds | rows/s | of COPY | svdhub peak RSS MiB | runs (s) |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | --- |")
    groups = {}
    for r in results:
        groups.setdefault((r["gateways"], r["backend"]), []).append(r)
    summary = {}
    for backend in ("sqlite", "postgresql"):
        for gateways in (1, a.gateways):
            rs = groups.get((gateways, backend))
            if not rs:
                continue
            s = statistics.median(r["s"] for r in rs)
            rate = valid / s
            rss = max(r["rss_mib"] for r in rs)
            summary[(gateways, backend)] = {"s": s, "rate": rate, "rss": rss}
            ratio = f"{rate / copy_rate:.2f}" if copy_rate else "–"
            print(f"| {rs[0]['scenario']} | {backend} | {valid:,} | {s:.2f} | {rate:,.0f} | {ratio} | {rss:.1f} | "
                  f"{', '.join(format(r['s'], '.2f') for r in rs)} |")
    if copies:
        s = statistics.median(c["s"] for c in copies)
        print(f"| COPY FROM a CSV file (server-side) | postgresql | {valid:,} | {s:.2f} | {copy_rate:,.0f} | 1.00 | | "
              f"{', '.join(format(c['s'], '.2f') for c in copies)} |")
    print()
    print("Timer: from spawning the first of the scenario's `svdgw forward` processes (all spawned together, each "
          "with its outbox already full) to the exit of the last, after the hub's receipt for its last batch; "
          f"rows = records in the store (`svdhub stats`, checked every delivery), {results[0]['batches']:,} batches "
          f"with one gateway and {groups.get((a.gateways, backends[0]), results)[0]['batches']:,} with "
          f"{a.gateways} (one empty batch per gateway). Re-sent batches answered 'duplicate': "
          f"{sum(r['duplicates'] for r in results)}; rejected: {sum(r['rejected'] for r in results)}.")
    if copies:
        print(f"COPY: `COPY {COPY_TABLE} FROM 'FILE' CSV`, server-side, into `(LIKE {TABLE} INCLUDING ALL)` "
              f"({copies[0]['indexes']} indexes, as svdhub made them), the file exported from the rows svdhub stored "
              f"({copies[0]['csv_mib']:.0f} MiB), after a CHECKPOINT; time as psql's \\timing shows it; one COPY "
              "after each PostgreSQL delivery.")
    print("CPU seconds per delivery (user+system): " + "; ".join(
        f"{r['scenario']} {r['backend']} run {r['run']}: " + ", ".join(f"{k} {v:.1f}" for k, v in r["cpu"].items())
        for r in results))
    def parts(p):
        return f"{p['VmRSS']:.1f} = {p['RssAnon']:.1f} + {p['RssFile']:.1f} + {p['RssShmem']:.1f}" if p else "–"

    print("svdhub RSS, MiB, as heap + mapped files + shared memory: when the delivery started (idle, store open) "
          "-> the largest sample (every 50 ms) during it: " +
          "; ".join(f"{r['scenario']} {r['backend']} run {r['run']}: {parts(r['rss_idle'])} -> "
                    f"{parts(r['rss_at_peak'])}" for r in results))
    busy = [r for r in results if "copy_statement_s" in r]
    if busy:
        print("PostgreSQL busy in svdhub's COPY statements (pg_stat_statements), of the delivery's time: " + "; ".join(
            f"{r['scenario']} run {r['run']}: {r['copy_statement_s']:.1f} s of {r['s']:.1f} s "
            f"({r['copy_statement_s'] / r['s']:.0%})" for r in busy))
    for r in results:
        if r.get("top_statements"):
            print(f"pg_stat_statements, {r['scenario']}, run {r['run']}:\n  " +
                  r["top_statements"].replace("\n", "\n  "))
    print()
    goals = []
    for backend in ("postgresql", "sqlite"):
        for gateways in (1, a.gateways):
            got = summary.get((gateways, backend))
            if got and copy_rate:
                ratio = got["rate"] / copy_rate
                goals.append(f"ingest >= {RATIO_GOAL:.0%} of PostgreSQL's COPY rate, {backend}, {gateways} gateway(s): "
                             f"{'met' if ratio >= RATIO_GOAL else 'NOT met'} ({ratio:.0%})")
    for backend in ("sqlite", "postgresql"):
        got = summary.get((a.gateways, backend))
        if got:
            goals.append(f"svdhub peak RSS <= max_pending_bytes + 32 MiB = {limit_mib:.0f} MiB, {a.gateways} gateways, "
                         f"{backend}: {'met' if got['rss'] <= limit_mib else 'NOT met'} ({got['rss']:.1f} MiB)")
    if reports:
        print()
        print(f"`svdhub report --person-level` over the {valid:,} stored records (every one dated in the range, "
              "linked and counted; see [report] above), after the one-gateway delivery; beside it, the same columns "
              "of the same view read by the database's own client (sqlite3 to /dev/null; server-side COPY to "
              "/dev/null):")
        print()
        print("| backend | report s | plain read s | report / read | report peak RSS MiB | person-level rows | runs (s) |")
        print("| --- | ---: | ---: | ---: | ---: | ---: | --- |")
        for backend in ("sqlite", "postgresql"):
            rs = [r for r in reports if r["backend"] == backend]
            if rs:
                s_ = statistics.median(r["s"] for r in rs)
                read = statistics.median(r["read_s"] for r in rs)
                print(f"| {backend} | {s_:.2f} | {read:.2f} | {s_ / read:.1f} | {max(r['rss_mib'] for r in rs):.1f} | "
                      f"{format(rs[0]['person_rows'], ',') if rs[0]['person_rows'] is not None else '–'} | {', '.join(format(r['s'], '.2f') for r in rs)} |")
    for g in goals:
        print(f"goal: {g}")
    print("RESULT " + json.dumps({
        "rows": a.rows, "valid": valid, "runs": a.runs, "gateways": a.gateways,
        "max_pending_bytes": a.max_pending_bytes,
        "deliveries": [{k: (round(v, 3) if isinstance(v, float) else v) for k, v in r.items()
                        if k not in ("cpu", "top_statements", "rss_at_peak", "rss_idle", "copy_statement_s")} for r in results],
        "copy_s": [round(c["s"], 3) for c in copies],
        "reports": [{k: (round(v, 3) if isinstance(v, float) else v) for k, v in r.items()} for r in reports],
        "copy_rows_per_s": round(copy_rate) if copy_rate else None}))


if __name__ == "__main__":
    main()
