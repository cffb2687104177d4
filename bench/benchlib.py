"""What the benchmark scripts share: where things are, the extract they all measure, and the local
hub (scripts/local-hub.sh) two of them run. Each script calls set_name() first, so that fail()
names it."""
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
# The benchmark kit, kept outside this repository and shared with the baseline's authors: the
# extract generator (gen_ed_extract.py) and the Python baseline (peer_pipeline.py). SVD_BENCH_KIT
# names its directory; by default, shared/bench beside the repository's checkout.
SHARED_BENCH = os.environ.get("SVD_BENCH_KIT") or os.path.join(os.path.dirname(ROOT), "shared", "bench")
PYTHON = "/usr/bin/python3"  # Debian's, which has python3-paho-mqtt for the baseline
LOCAL_HUB = os.path.join(ROOT, "scripts", "local-hub.sh")

_name = "bench"


def set_name(name):
    global _name
    _name = name


def fail(message):
    sys.exit(f"{_name}: {message}")


def tail(path, lines=30):
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-lines:])
    except OSError:
        return ""


def local_hub(build_dir, *args):
    """Runs scripts/local-hub.sh ARGS; returns its output, or stops the benchmark with it."""
    env = dict(os.environ, BUILD_DIR=build_dir)
    p = subprocess.run(["sh", LOCAL_HUB, *args], capture_output=True, text=True, env=env)
    if p.returncode != 0:
        fail(f"local-hub.sh {' '.join(args)} failed ({p.returncode}):\n{p.stdout}{p.stderr}")
    return p.stdout


def extract(work, rows):
    """The generated ED extract of `rows` rows, made once and cached in `work`."""
    path = os.path.join(work, f"ed-{rows}.csv")
    if not os.path.exists(path):
        print(f"generating {rows:,} rows …", file=sys.stderr)
        subprocess.run([PYTHON, os.path.join(SHARED_BENCH, "gen_ed_extract.py"), str(rows), path + ".tmp"],
                       check=True)
        os.rename(path + ".tmp", path)
    return path


def toml_string(path):
    if '"' in path or "\\" in path:
        fail(f"path unusable in a TOML basic string: {path}")
    return f'"{path}"'


def programs(build_dir):
    """svdgw and svdhub as built in `build_dir`, or stops the benchmark saying how to build them."""
    svdgw = os.path.join(build_dir, "apps", "svdgw", "svdgw")
    svdhub = os.path.join(build_dir, "apps", "svdhub", "svdhub")
    for b in (svdgw, svdhub):
        if not os.access(b, os.X_OK):
            fail(f"{b} not built: cmake --build {build_dir} --target svdgw svdhub")
    return svdgw, svdhub
