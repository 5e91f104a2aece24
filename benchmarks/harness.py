"""The lab pieces ``make bench`` measures with, on top of tests/integration.

- :func:`generate_stubs`: Python gRPC stubs of gobgpd's API, from Debian's .proto files;
- :class:`BenchRouter`: the integration tests' GoBGP router, logging at ``info``
  (their ``debug`` logs every UPDATE, which would make the router the bottleneck);
- :class:`PeerPoller` / :class:`RibWatch`: the router's view, through ``gobgp_agent.py``
  run inside the router's namespace (cheap ListPeer counters; a best-path stream);
- :class:`ProcWatch`: RSS and CPU of one process from /proc;
- :class:`Anchor`: a second gobgpd as the speaker, fed through its gRPC API;
- :func:`pods`: the objects that make N prefixes wanted.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
for _p in (ROOT / "tests" / "integration", ROOT / "tests"):
    if str(_p) not in sys.path:
        sys.path.insert(0, str(_p))

import bench_tools as tools  # noqa: E402
from netlab import Netns, stop_group, wait_for  # noqa: E402
from routers import GOBGP_SENTINELS, GoBGPRouter  # noqa: E402

AGENT = HERE / "gobgp_agent.py"
PROTO_DIR = Path("/usr/share/gocode/src/github.com/osrg/gobgp/api")
PROTOS = ("gobgp.proto", "attribute.proto", "capability.proto")
ESTABLISHED = 6
SENTINEL = GOBGP_SENTINELS["ipv4"]

# --------------------------------------------------------------------------- objects

SUBNET_CIDR = "10.128.0.0/9"


def pod_ip(index: int, block: int = 0) -> str:
    """The address of pod ``index`` in address block ``block`` (each block is 4 /16s).

    Block 0 holds the bulk pods (10.128.0.0 up), block 18 the latency pods
    (10.200.0.0 up), 19 and later the churn pods: all inside SUBNET_CIDR.
    """
    n = block * 4 * 65536 + index
    if n >= 128 * 65536:
        raise ValueError("pod index out of the subnet")
    return f"10.{128 + n // 65536}.{n // 256 % 256}.{n % 256}"


def subnet() -> dict[str, Any]:
    """One Cluster-policy subnet: it and every pod in it are announced by every speaker."""
    return {
        "apiVersion": "kubeovn.io/v1", "kind": "Subnet",
        "metadata": {"name": "big", "annotations": {"ovn.kubernetes.io/bgp": "true"}},
        "spec": {"cidrBlock": SUBNET_CIDR, "provider": "ovn"},
        "status": {"conditions": [{"type": "Ready", "status": "True"}]},
    }  # fmt: skip


def pod(name: str, namespace: str, ip: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "annotations": {
            "ovn.kubernetes.io/ip_address": ip,
            "ovn.kubernetes.io/logical_switch": "big"}},
        "spec": {"nodeName": "node-b"}, "status": {"phase": "Running"},
    }  # fmt: skip


def pods(count: int) -> Iterator[dict[str, Any]]:
    """The subnet, then ``count`` running pods on another node (``count + 1`` prefixes)."""
    yield subnet()
    for i in range(count):
        yield pod(f"p{i}", "bench", pod_ip(i))


def wanted_prefixes(count: int) -> list[str]:
    """The prefixes :func:`pods` makes wanted, as the router prints them."""
    return [SUBNET_CIDR] + [f"{pod_ip(i)}/32" for i in range(count)]


# --------------------------------------------------------------------------- gRPC stubs


def generate_stubs(dest: Path, proto_dir: Path = PROTO_DIR) -> Path:
    """``grpc_tools.protoc`` on gobgpd's .proto files; the directory to put on sys.path."""
    missing = [p for p in PROTOS if not (proto_dir / p).exists()]
    if missing:
        raise RuntimeError(f"no {', '.join(missing)} in {proto_dir}: "
                           "apt-get install golang-github-osrg-gobgp-dev")
    import grpc_tools

    include = Path(grpc_tools.__file__).parent / "_proto"
    dest.mkdir(parents=True, exist_ok=True)
    argv = [sys.executable, "-m", "grpc_tools.protoc", f"-I{proto_dir}", f"-I{include}",
            f"--python_out={dest}", *[str(proto_dir / p) for p in PROTOS]]
    subprocess.run(argv, check=True, capture_output=True, text=True)
    return dest


# --------------------------------------------------------------------------- router


class BenchRouter(GoBGPRouter):
    """GoBGPRouter with ``-l info``: at ``debug`` gobgpd logs every message it receives."""

    def _spawn(self, argv: Any) -> None:
        argv = list(argv)
        if "-l" in argv:
            argv[argv.index("-l") + 1] = "info"
        super()._spawn(argv)

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None


# --------------------------------------------------------------------------- agents


class Agent:
    """``gobgp_agent.py`` in a namespace; its JSON output lines read by a thread."""

    def __init__(self, ns: Netns, stubs: Path, port: int, *args: str) -> None:
        argv = [sys.executable, str(AGENT), "--stubs", str(stubs), "--port", str(port), *args]
        self._stderr = open(os.devnull, "w")
        self.proc = ns.popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=self._stderr, text=True, bufsize=1)
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._read, daemon=True, name="bench-agent")
        self._thread.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.handle(line)
        with self._cond:
            self._cond.notify_all()

    def handle(self, line: str) -> None:
        raise NotImplementedError

    def send(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def wait(self, predicate: Callable[[], Any], timeout: float, what: str) -> Any:
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                value = predicate()
                if value:
                    return value
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"{what}: not within {timeout} s")
                if self.proc.poll() is not None and not self._thread.is_alive():
                    raise RuntimeError(f"{what}: agent exited with {self.proc.returncode}")
                self._cond.wait(min(left, 0.5))

    def stop(self) -> None:
        stop_group(self.proc)
        self._thread.join(timeout=5)
        self._stderr.close()


class PeerPoller(Agent):
    """The router's counters for one peer, every ``interval`` s: the delivery curve."""

    def __init__(self, ns: Netns, stubs: Path, port: int, peer: str,
                 interval: float = 0.1) -> None:
        self.samples: list[dict[str, Any]] = []
        super().__init__(ns, stubs, port, "poll", "--peer", peer, "--interval", str(interval))

    def handle(self, line: str) -> None:
        try:
            sample = json.loads(line)
        except ValueError:
            return
        if "error" in sample:
            return
        with self._cond:
            self.samples.append(sample)
            self._cond.notify_all()

    def wait_ready(self, timeout: float = 20) -> None:
        self.wait(lambda: self.samples, timeout, "router poller")

    def wait_accepted(self, want: int, timeout: float) -> dict[str, Any]:
        def reached() -> dict[str, Any] | None:
            for s in reversed(self.samples[-3:]):
                if s["accepted"] >= want:
                    return s
            return None

        return self.wait(reached, timeout, f"router holding {want} prefixes")

    def first(self, predicate: Callable[[dict[str, Any]], bool],
              since: float = 0.0) -> dict[str, Any] | None:
        with self._cond:
            for s in self.samples:
                if s["t"] >= since and predicate(s):
                    return s
        return None

    def latest(self) -> dict[str, Any]:
        with self._cond:
            return dict(self.samples[-1])

    def curve(self, t0: float, since: float | None = None) -> list[list[float]]:
        """[[seconds since t0, prefixes accepted], ...] from ``since`` (default t0) on."""
        start = t0 if since is None else since
        with self._cond:
            return [[round(s["t"] - t0, 3), s["accepted"]] for s in self.samples
                    if s["t"] >= start]


class RibWatch(Agent):
    """Best-path changes of the router's global RIB, timestamped on arrival.

    With ``init`` the stream starts with the whole table, so ``present`` is the
    exact RIB from then on.  ``expect(wanted)`` then tracks, event by event,
    when the RIB became equal to ``wanted`` (``equal_since``, None while not).
    """

    def __init__(self, ns: Netns, stubs: Path, port: int, init: bool = True) -> None:
        self.present: set[str] = set()
        self.events: deque[tuple[float, str, str]] = deque(maxlen=200_000)
        self.first_seen: dict[tuple[str, str], float] = {}
        self.sentinel_seen = 0
        self.wanted: set[str] | None = None
        self._missing: set[str] = set()
        self._extra: set[str] = set()
        self.equal_since: float | None = None
        args = ["watch"] + (["--init"] if init else [])
        super().__init__(ns, stubs, port, *args)

    def handle(self, line: str) -> None:
        parts = line.split()
        if len(parts) != 3:
            return
        t, kind, prefix = float(parts[0]), parts[1], parts[2]
        with self._cond:
            if prefix == SENTINEL:
                self.sentinel_seen += 1
                self._cond.notify_all()
                return
            self.events.append((t, kind, prefix))
            self.first_seen.setdefault((kind, prefix), t)
            if kind == "A":
                self.present.add(prefix)
            else:
                self.present.discard(prefix)
            if self.wanted is not None:
                inside = prefix in self.wanted
                here = kind == "A"
                if inside:
                    (self._missing.discard if here else self._missing.add)(prefix)
                else:
                    (self._extra.add if here else self._extra.discard)(prefix)
                equal = not self._missing and not self._extra
                if equal and self.equal_since is None:
                    self.equal_since = t
                elif not equal:
                    self.equal_since = None
            self._cond.notify_all()

    def wait_live(self, router: GoBGPRouter, timeout: float = 20) -> None:
        """Toggle the router's hidden sentinel route until the stream shows it."""

        def seen() -> bool:
            before = self.sentinel_seen
            router.announce(SENTINEL)
            router.withdraw(SENTINEL)
            with contextlib.suppress(TimeoutError):
                self.wait(lambda: self.sentinel_seen > before, 1.0, "sentinel")
                return True
            return False

        wait_for(seen, timeout, interval=0.0, message="router's RIB stream never became live")

    def expect(self, wanted: Iterable[str], now: float) -> None:
        with self._cond:
            self.wanted = set(wanted)
            self._missing = self.wanted - self.present
            self._extra = self.present - self.wanted
            equal = not self._missing and not self._extra
            last = self.events[-1][0] if self.events else now
            self.equal_since = min(last, now) if equal else None

    def mismatch(self) -> tuple[int, int]:
        with self._cond:
            return len(self._missing), len(self._extra)

    def wait_seen(self, kind: str, prefix: str, timeout: float) -> float:
        return self.wait(lambda: self.first_seen.get((kind, prefix)), timeout,
                         f"{'announcement' if kind == 'A' else 'withdrawal'} of {prefix}")

    def wait_equal(self, timeout: float) -> float | None:
        try:
            return self.wait(lambda: self.equal_since, timeout, "router RIB == wanted")
        except TimeoutError:
            return None


# --------------------------------------------------------------------------- processes


class ProcWatch:
    """VmRSS every ``interval`` s from /proc in a thread; VmHWM and CPU ticks on demand."""

    def __init__(self, pid: int, interval: float = 0.1) -> None:
        self.pid = pid
        self.interval = interval
        self.samples: list[tuple[float, int]] = []  # (monotonic, VmRSS kB)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="bench-procwatch")

    def status(self) -> dict[str, int]:
        return tools.parse_status_kb(Path(f"/proc/{self.pid}/status").read_text())

    def cpu_ticks(self) -> int:
        return tools.parse_stat_ticks(Path(f"/proc/{self.pid}/stat").read_text())

    def _run(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(OSError):
                self.samples.append((time.monotonic(), self.status().get("VmRSS", 0)))
            self._stop.wait(self.interval)

    def start(self) -> ProcWatch:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def curve(self, t0: float) -> list[list[float]]:
        return [[round(t - t0, 3), round(kb / 1024, 1)] for t, kb in self.samples]


def exec_target(pid: int, needle: str, timeout: float = 10) -> int:
    """``pid`` once its command line shows ``needle``.

    ``ip netns exec`` execs ``env``, which execs the program: one PID all along,
    whose /proc entry shows the final program once the execs are done.
    """

    def cmdline() -> bool:
        return needle in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")

    wait_for(cmdline, timeout, interval=0.005, message=f"pid {pid} never became {needle}")
    return pid


def interpreter_ready(pid: int, timeout: float = 10) -> None:
    """Wait until the Python process has imported something (py-spy can attach)."""

    def ready() -> bool:
        maps = Path(f"/proc/{pid}/maps").read_text()
        return "libpython" in maps or "python3" in maps

    wait_for(ready, timeout, interval=0.01, message=f"pid {pid} not a Python process")


_BUSY = ("ryu-manager", "gobgpd", "bird", "pytest", "kubeapi", "pip", "py-spy")


def foreign_activity() -> dict[str, Any]:
    """Load average, and the daemons and test runs on this machine that are not ours.

    The box has 2 cores: a concurrent test run (another lab's speaker, routers,
    pytest) takes CPU from what is measured, so the results say when one was seen.
    """
    parents: dict[int, int] = {}
    names: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, ValueError, IndexError):
            stat = (entry / "stat").read_text()
            parents[int(entry.name)] = int(stat[stat.rindex(")") + 2:].split()[1])
            names[int(entry.name)] = (entry / "cmdline").read_bytes().replace(
                b"\0", b" ").decode(errors="replace").strip()
    me = os.getpid()

    def ours(pid: int) -> bool:
        seen = 0
        while pid > 1 and seen < 64:
            if pid == me:
                return True
            pid = parents.get(pid, 0)
            seen += 1
        return False

    others = sorted({names[pid][:100] for pid in names
                     if any(b in names[pid] for b in _BUSY) and not ours(pid)})
    return {"loadavg": Path("/proc/loadavg").read_text().split()[:3], "others": others}


def compare_with_head(repo: Path = ROOT) -> dict[str, Any]:
    """The installed ``ryu_kovn`` modules against ``ryu_kovn/`` at HEAD (read-only git).

    ``differs``: tracked modules whose installed copy is not HEAD's (uncommitted work
    was installed); ``missing``: tracked but not installed; ``extra``: installed but not
    tracked (new work, or stale files an older install left behind).
    """
    import ryu_kovn

    root = Path(ryu_kovn.__file__).parent
    installed = {str(p.relative_to(root)) for p in root.rglob("*.py")}
    try:
        names = subprocess.run(["git", "-C", str(repo), "ls-tree", "-r", "--name-only", "HEAD",
                                "ryu_kovn"], capture_output=True, text=True, check=True,
                               timeout=20).stdout.split()
        tracked = {n.removeprefix("ryu_kovn/") for n in names if n.endswith(".py")}
        differs = []
        for rel in sorted(tracked & installed):
            blob = subprocess.run(["git", "-C", str(repo), "show", f"HEAD:ryu_kovn/{rel}"],
                                  capture_output=True, check=True, timeout=20).stdout
            if blob != (root / rel).read_bytes():
                differs.append(rel)
    except (OSError, subprocess.SubprocessError) as exc:
        return {"error": str(exc)}
    return {"differs": differs, "missing": sorted(tracked - installed),
            "extra": sorted(installed - tracked)}


def installed_build() -> dict[str, Any]:
    """What speaker the venv would run: version and a digest of the installed modules."""
    import importlib.metadata as md

    import ryu_kovn

    root = Path(ryu_kovn.__file__).parent
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        digest.update(str(path.relative_to(root)).encode())
        digest.update(path.read_bytes())
    return {"version": md.version("ryu-kovn"), "path": str(root),
            "modules_sha256": digest.hexdigest()[:16]}


# --------------------------------------------------------------------------- GoBGP anchor


class Anchor:
    """A second gobgpd playing the speaker: no neighbor in its config, fed over gRPC."""

    def __init__(self, ns: Netns, workdir: Path, asn: int, address: str,
                 grpc_port: int = 50051) -> None:
        self.ns = ns
        self.workdir = workdir / f"anchor-{ns.short}"
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.asn = asn
        self.address = address
        self.grpc_port = grpc_port
        self.proc: subprocess.Popen[Any] | None = None
        self._log: Any = None

    def config(self) -> str:
        return (f'[global.config]\n  as = {self.asn}\n  router-id = "{self.address}"\n'
                "  port = 179\n")

    def start(self) -> float:
        """Start gobgpd; returns the monotonic time of the start."""
        path = self.workdir / "gobgpd.toml"
        path.write_text(self.config())
        self._log = open(self.workdir / "gobgpd.log", "a")
        argv = ["gobgpd", "-f", str(path), "-p", "-l", "info", "--pprof-disable",
                "--api-hosts", f"127.0.0.1:{self.grpc_port}"]
        t0 = time.monotonic()
        self.proc = self.ns.popen(argv, stdout=self._log, stderr=subprocess.STDOUT)
        return t0

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    def stop(self) -> None:
        stop_group(self.proc, timeout=10)
        if self._log is not None:
            self._log.close()
            self._log = None
        self.proc = None


class Injector(Agent):
    """``gobgp_agent.py inject``: builds its requests, then streams them on ``go()``."""

    def __init__(self, ns: Netns, stubs: Path, port: int, prefixes_file: Path, peer: str,
                 peer_as: int, mode: str) -> None:
        self.lines: list[dict[str, Any]] = []
        super().__init__(ns, stubs, port, "inject", "--prefixes", str(prefixes_file),
                         "--peer", peer, "--peer-as", str(peer_as), "--mode", mode)

    def handle(self, line: str) -> None:
        with contextlib.suppress(ValueError), self._cond:
            self.lines.append(json.loads(line))
            self._cond.notify_all()

    def wait_prepared(self, timeout: float = 120) -> dict[str, Any]:
        return self.wait(lambda: next((x for x in self.lines if "prepared" in x), None),
                         timeout, "injector preparing its requests")

    def go(self) -> None:
        self.send("go")

    def result(self, timeout: float = 300) -> dict[str, Any]:
        return self.wait(lambda: next((x for x in self.lines if "t_go" in x), None),
                         timeout, "injector result")
