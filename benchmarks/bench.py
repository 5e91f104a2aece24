"""``make bench``: issue 6's figures for ryu-kovn, with GoBGP measured in the same run.

Runs as root, in network namespaces it makes (documentation addresses only), with
the installed speaker (``ryu-manager ryu_kovn.app``), gobgpd 3.x as the router and
the emulated Kubernetes API server of tests/kubeapi.  Writes
``benchmarks/results/latest.json`` and ``latest.png`` and prints a summary table.
README.md beside this file says what each scenario measures and how.

    .venv/bin/python benchmarks/bench.py                 # full: 10k and 100k, ~10 min
    BENCH_SCALE=small .venv/bin/python benchmarks/bench.py   # 10k only, ~2 min
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import platform
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import bench_tools as tools  # noqa: E402
import harness  # noqa: E402  (puts tests/integration and tests on sys.path)
from harness import (  # noqa: E402
    Anchor,
    BenchRouter,
    Injector,
    PeerPoller,
    ProcWatch,
    RibWatch,
)
from kubeapi.admin import AdminClient  # noqa: E402
from kubeapi.harness import KubeAPI  # noqa: E402
from kubelink import KubeLink  # noqa: E402
from netlab import Lab, Netns  # noqa: E402
from routers import PeerSpec  # noqa: E402
from topology import CLUSTER_AS, ROUTER_AS, Side, Topology, build  # noqa: E402

RESULTS = HERE / "results"
ANCHOR_ADDR = "203.0.113.1"  # the GoBGP anchor, on its own link to the router
ROUTER_ANCHOR_SIDE = "203.0.113.2"
POLL_INTERVAL = 0.1  # the router's counters; ListPeer walks the Adj-RIB-In, keep it modest
LATENCY_BLOCK = 18  # pod_ip blocks: bulk pods in 0.., latency pods in 18, churn from 19
CHURN_BLOCK = 19
CHURN_POOL = 200  # churn pods alive at once before deletes start
CHURN_WORKERS = 4


@dataclass(frozen=True)
class Scale:
    bulk: tuple[int, ...]
    idle_s: float
    latency_n: int
    churn_rates: tuple[int, ...]
    churn_s: float
    bulk_timeout_s: float


SCALES = {
    "small": Scale(bulk=(10_000,), idle_s=15, latency_n=200, churn_rates=(100, 400, 1600),
                   churn_s=4, bulk_timeout_s=120),
    "full": Scale(bulk=(10_000, 100_000), idle_s=60, latency_n=500,
                  churn_rates=(100, 200, 400, 800, 1600, 3200, 6400), churn_s=8,
                  bulk_timeout_s=300),
}


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def label(n: int) -> str:
    return f"{n // 1000}k" if n % 1000 == 0 else str(n)


# --------------------------------------------------------------------------- the lab


@dataclass
class Ctx:
    """One lab: speaker and anchor namespaces, one router, one emulated API server."""

    lab: Lab
    workdir: Path
    stubs: Path
    topo: Topology
    side: Side
    router: BenchRouter
    anchor_ns: Netns
    kube: KubeAPI
    pods: int
    speaker: Any = None
    speaker_pid: int | None = None
    builds: list[dict[str, Any]] = field(default_factory=list)
    activity: dict[str, Any] = field(default_factory=dict)

    @property
    def want(self) -> int:
        return self.pods + 1  # the subnet and its pods


@contextlib.contextmanager
def make_lab(workdir: Path, stubs: Path, pods: int) -> Iterator[Ctx]:
    workdir.mkdir(parents=True, exist_ok=True)
    with Lab() as lab:
        topo = build(lab, workdir, "gobgp")
        side = topo.sides[0]
        anchor_ns = lab.ns("anc")
        lab.link(anchor_ns, side.ns, [f"{ANCHOR_ADDR}/25"], [f"{ROUTER_ANCHOR_SIDE}/25"])
        peers = [PeerSpec(side.speaker_v4, CLUSTER_AS, families=("ipv4",)),
                 PeerSpec(ANCHOR_ADDR, CLUSTER_AS, families=("ipv4",))]
        router = BenchRouter(side.ns, workdir, ROUTER_AS, side.v4, peers)
        router.start()
        # Bookmarks about once a minute, as kube-apiserver sends them (the emulator's
        # default, 1 s, would make the idle speaker handle 1 event/s per watch).
        kube = KubeAPI(workdir=workdir / "kubeapi", bookmark_interval=60.0,
                       max_events=200_000)
        topo.kube = kube
        kube.start()
        topo.kube_link = KubeLink(topo.speaker_ns, kube.port)
        t = time.monotonic()
        AdminClient(kube.url, timeout=900).load(list(harness.pods(pods)))
        log(f"lab up; {pods} pods loaded into the API in {time.monotonic() - t:.1f} s")
        busy = harness.foreign_activity()
        if busy["others"]:
            log(f"WARNING: other activity on this machine (load {busy['loadavg']}): "
                f"{len(busy['others'])} foreign processes, e.g. {busy['others'][:3]}")
        yield Ctx(lab, workdir, stubs, topo, side, router, anchor_ns, kube, pods,
                  activity=busy)


def start_speaker(ctx: Ctx) -> tuple[float, int]:
    ctx.builds.append(harness.installed_build())
    spk = ctx.topo.speaker(neighbor_ipv6_address=None, verbose=False)
    t0 = time.monotonic()
    spk.start(wait=False)
    assert spk.proc is not None
    pid = harness.exec_target(spk.proc.pid, "ryu-manager")
    ctx.speaker, ctx.speaker_pid = spk, pid
    return t0, pid


def stop_speaker(ctx: Ctx) -> None:
    if ctx.speaker is not None:
        with contextlib.suppress(Exception):
            ctx.speaker.stop(timeout=20)
        ctx.speaker.kill()
        ctx.speaker = ctx.speaker_pid = None


def fresh_router(ctx: Ctx) -> None:
    """Restart the router (same config): every bulk run starts against an empty one."""
    ctx.router.stop()
    ctx.router.start()


# --------------------------------------------------------------------------- scenarios


def bulk_ours(ctx: Ctx, timeout: float) -> dict[str, Any]:
    """Cold start: speaker started with N pods in the API -> all N+1 prefixes in the router."""
    n = label(ctx.pods)
    poller = PeerPoller(ctx.side.ns, ctx.stubs, ctx.router.grpc_port, ctx.side.speaker_v4,
                        POLL_INTERVAL)
    poller.wait_ready()
    t0, pid = start_speaker(ctx)
    mem = ProcWatch(pid).start()
    out: dict[str, Any] = {}
    try:
        done = poller.wait_accepted(ctx.want, timeout)
        ticks = mem.cpu_ticks()
    except (TimeoutError, RuntimeError) as exc:
        last = poller.latest()
        log(f"bulk {n}: FAILED: {exc}; router holds {last['accepted']}")
        out[f"bulk_{n}_error"] = f"{exc}; router held {last['accepted']} of {ctx.want}"
        done = None
        ticks = mem.cpu_ticks()
    time.sleep(1.0)  # trailing UPDATEs (End-of-RIB is one too)
    last = poller.latest()
    est = poller.first(lambda s: s["state"] == harness.ESTABLISHED)
    status = mem.status()
    mem.stop()
    poller.stop()
    out.update({
        f"bulk_{n}_prefixes": ctx.want,
        f"bulk_{n}_delivery_s": round(done["t"] - t0, 3) if done else None,
        f"bulk_{n}_session_established_s": round(est["t"] - t0, 3) if est else None,
        f"bulk_{n}_delivery_from_established_s":
            round(done["t"] - est["t"], 3) if done and est else None,
        f"bulk_{n}_updates": last["updates"],
        f"bulk_{n}_prefixes_per_update":
            round(last["accepted"] / last["updates"], 1) if last["updates"] else None,
        f"speaker_rss_{n}_peak_mb": round(status.get("VmHWM", 0) / 1024, 1),
        f"speaker_rss_{n}_after_delivery_mb": round(status.get("VmRSS", 0) / 1024, 1),
        f"bulk_{n}_speaker_cpu_s": round(ticks / os.sysconf("SC_CLK_TCK"), 2),
        f"bulk_{n}_speaker_build": ctx.builds[-1]["modules_sha256"],
    })  # fmt: skip
    if ctx.pods >= 100_000:  # issue 6's "RSS with 100k prefixes announced": the peak
        out[f"speaker_rss_{n}_mb"] = out[f"speaker_rss_{n}_peak_mb"]
    out["_series"] = {f"ours_{n}": poller.curve(t0), f"ours_{n}_rss_mb": mem.curve(t0),
                      f"ours_{n}_established_s": out[f"bulk_{n}_session_established_s"]}
    log(f"bulk {n}: ours {out[f'bulk_{n}_delivery_s']} s from start "
        f"({out[f'bulk_{n}_delivery_from_established_s']} s from established), "
        f"{last['updates']} UPDATEs, peak RSS {out[f'speaker_rss_{n}_peak_mb']} MB")
    return out


def bulk_gobgp(ctx: Ctx, mode: str, timeout: float) -> dict[str, Any]:
    """The anchor: a second gobgpd, the same N+1 prefixes through its gRPC API.

    ``cold``: paths injected before the peer exists, then the peer added (a cold
    start, timed from gobgpd's start like ours); ``after``: the session is up
    first, then the paths are injected (timed from the first injected path).
    """
    n = label(ctx.pods)
    fresh_router(ctx)
    prefixes = ctx.workdir / f"prefixes-{n}.txt"
    if not prefixes.exists():
        prefixes.write_text("\n".join(harness.wanted_prefixes(ctx.pods)) + "\n")
    inj = Injector(ctx.anchor_ns, ctx.stubs, 50051, prefixes, ROUTER_ANCHOR_SIDE, ROUTER_AS,
                   mode)
    poller = PeerPoller(ctx.side.ns, ctx.stubs, ctx.router.grpc_port, ANCHOR_ADDR,
                        POLL_INTERVAL)
    anchor = Anchor(ctx.anchor_ns, ctx.workdir, CLUSTER_AS, ANCHOR_ADDR)
    out: dict[str, Any] = {}
    try:
        prep = inj.wait_prepared()
        poller.wait_ready()
        t0 = anchor.start()
        inj.go()
        assert anchor.pid is not None
        pid = harness.exec_target(anchor.pid, "gobgpd")
        done = poller.wait_accepted(ctx.want, timeout)
        ticks = ProcWatch(pid).cpu_ticks()
        res = inj.result()
        time.sleep(1.0)
        last = poller.latest()
        est = poller.first(lambda s: s["state"] == harness.ESTABLISHED)
        hwm = tools.parse_status_kb(Path(f"/proc/{pid}/status").read_text()).get("VmHWM", 0)
    finally:
        anchor.stop()
        inj.stop()
        poller.stop()
    inject_s = round(res["t_inject_end"] - res["t_inject_start"], 3)
    if mode == "cold":
        out.update({
            f"gobgp_{n}_delivery_s": round(done["t"] - t0, 3),
            f"gobgp_{n}_session_established_s": round(est["t"] - t0, 3) if est else None,
            # gobgpd's first connect comes 5-9 s after a peer is added (its timer)
            f"gobgp_{n}_peer_added_to_established_s":
                round(est["t"] - res["t_peer_added"], 3) if est else None,
            f"gobgp_{n}_delivery_from_established_s":
                round(done["t"] - est["t"], 3) if est else None,
            f"gobgp_{n}_inject_s": inject_s,
            f"gobgp_{n}_updates": last["updates"],
            f"gobgp_{n}_prefixes_per_update":
                round(last["accepted"] / last["updates"], 1) if last["updates"] else None,
            f"gobgp_rss_{n}_mb": round(hwm / 1024, 1),
            f"gobgp_{n}_cpu_s": round(ticks / os.sysconf("SC_CLK_TCK"), 2),
            f"gobgp_{n}_request_build_s": prep["prep_s"],
        })  # fmt: skip
        out["_series"] = {f"gobgp_{n}": poller.curve(t0),
                          f"gobgp_{n}_established_s": out[f"gobgp_{n}_session_established_s"]}
        log(f"bulk {n}: GoBGP {out[f'gobgp_{n}_delivery_s']} s from start "
            f"({out[f'gobgp_{n}_delivery_from_established_s']} s from established; "
            f"injection {inject_s} s), {last['updates']} UPDATEs")
    else:
        t_in = res["t_inject_start"]
        out.update({
            f"gobgp_{n}_inject_after_delivery_s": round(done["t"] - t_in, 3),
            f"gobgp_{n}_inject_after_inject_s": inject_s,
            f"gobgp_{n}_inject_after_updates": last["updates"],
        })
        out["_series"] = {f"gobgp_{n}_inject_after": poller.curve(t_in)}
        log(f"bulk {n}: GoBGP, injected into an established session: "
            f"{out[f'gobgp_{n}_inject_after_delivery_s']} s, {last['updates']} UPDATEs")
    return out


def idle(ctx: Ctx, seconds: float) -> dict[str, Any]:
    """CPU of the speaker over ``seconds`` with everything converged and nothing changing."""
    assert ctx.speaker_pid is not None
    time.sleep(5.0)  # let the start-up's stragglers (GC, first keepalives) pass
    proc = ProcWatch(ctx.speaker_pid)
    hz = os.sysconf("SC_CLK_TCK")
    c0, t0 = proc.cpu_ticks(), time.monotonic()
    time.sleep(seconds)
    c1, t1 = proc.cpu_ticks(), time.monotonic()
    status = proc.status()
    pct = round(tools.cpu_percent(c1 - c0, t1 - t0, hz), 3)
    log(f"idle: {pct}% of a core over {t1 - t0:.0f} s; RSS {status.get('VmRSS', 0) / 1024:.0f} MB")
    return {"idle_cpu_percent": pct, "idle_window_s": round(t1 - t0, 1),
            "idle_cpu_ticks": c1 - c0, "clock_ticks_per_s": hz,
            "speaker_rss_10k_mb": round(status.get("VmRSS", 0) / 1024, 1)}


class Api:
    """Keep-alive HTTP to the emulated API server (urllib would open one TCP per call)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def call(self, method: str, path: str, body: Any = None) -> int:
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": "application/json"} if data is not None else {}
        try:
            self.conn.request(method, path, body=data, headers=headers)
            response = self.conn.getresponse()
        except (OSError, http.client.HTTPException):
            self.conn.close()
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            self.conn.request(method, path, body=data, headers=headers)
            response = self.conn.getresponse()
        response.read()
        return response.status

    def create_pod(self, name: str, namespace: str, ip: str) -> int:
        obj = harness.pod(name, namespace, ip)
        del obj["status"]  # one write: a real server ignores status on create anyway
        return self.call("POST", f"/api/v1/namespaces/{namespace}/pods", obj)

    def delete_pod(self, name: str, namespace: str) -> int:
        return self.call("DELETE", f"/api/v1/namespaces/{namespace}/pods/{name}")

    def close(self) -> None:
        self.conn.close()


def latency(ctx: Ctx, count: int) -> dict[str, Any]:
    """``count`` pods created one at a time (then deleted): API write -> router's RIB."""
    watch = RibWatch(ctx.side.ns, ctx.stubs, ctx.router.grpc_port, init=False)
    api = Api(ctx.kube.port)
    rng = random.Random(6)
    announce: list[float] = []
    withdraw: list[float] = []
    writes: list[float] = []
    lost = 0
    try:
        watch.wait_live(ctx.router)
        for kind in ("A", "W"):
            for i in range(count):
                ip = harness.pod_ip(i, LATENCY_BLOCK)
                t0 = time.monotonic()
                if kind == "A":
                    status = api.create_pod(f"lat{i}", "lat", ip)
                else:
                    status = api.delete_pod(f"lat{i}", "lat")
                writes.append((time.monotonic() - t0) * 1000)
                if status >= 300:
                    raise RuntimeError(f"API answered {status} to change {kind} {i}")
                try:
                    t = watch.wait_seen(kind, f"{ip}/32", timeout=10)
                except TimeoutError:
                    lost += 1
                    continue
                (announce if kind == "A" else withdraw).append((t - t0) * 1000)
                time.sleep(rng.uniform(0.005, 0.025))  # no lock-step with any timer
    finally:
        api.close()
        watch.stop()
    out = {"latency_ms": tools.distribution(announce), "latency_withdraw_ms":
           tools.distribution(withdraw), "api_write_ms": tools.distribution(writes),
           "latency_lost": lost, "_series": {"latency_ms": [round(x, 3) for x in announce],
                                             "latency_withdraw_ms": [round(x, 3)
                                                                     for x in withdraw]}}
    log(f"latency: announce {out['latency_ms']}, withdraw p99 "
        f"{out['latency_withdraw_ms']['p99']} ms, lost {lost}")
    return out


class Churn:
    """Open-loop load: pod creates and deletes at a set rate, from a few keep-alive clients."""

    def __init__(self, ctx: Ctx) -> None:
        self.ctx = ctx
        self.live: deque[tuple[str, str]] = deque()  # churn pods believed alive (name, prefix)
        self.counter = 0
        self.base = set(harness.wanted_prefixes(ctx.pods))

    def plan(self, count: int) -> list[tuple[str, str, str]]:
        ops = []
        for _ in range(count):
            if len(self.live) >= CHURN_POOL and len(ops) % 2:
                name, prefix = self.live.popleft()
                ops.append(("delete", name, prefix))
            else:
                i = self.counter
                self.counter += 1
                ip = harness.pod_ip(i, CHURN_BLOCK)
                self.live.append((f"c{i}", f"{ip}/32"))
                ops.append(("create", f"c{i}", ip))
        return ops

    def run(self, ops: list[tuple[str, str, str]], rate: float) -> dict[str, Any]:
        lock = threading.Lock()
        state = {"next": 0, "errors": 0, "last_done": 0.0}
        start = time.monotonic() + 0.05

        def worker() -> None:
            api = Api(self.ctx.kube.port)
            try:
                while True:
                    with lock:
                        i = state["next"]
                        if i >= len(ops):
                            return
                        state["next"] = i + 1
                    delay = start + i / rate - time.monotonic()
                    if delay > 0:
                        time.sleep(delay)
                    op, name, arg = ops[i]
                    if op == "create":
                        status = api.create_pod(name, "churn", arg)
                    else:
                        status = api.delete_pod(name, "churn")
                    with lock:
                        state["last_done"] = max(state["last_done"], time.monotonic())
                        if status >= 300:
                            state["errors"] += 1
            finally:
                api.close()

        threads = [threading.Thread(target=worker, daemon=True) for _ in range(CHURN_WORKERS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = state["last_done"] - start
        return {"t_stop": state["last_done"], "elapsed_s": round(elapsed, 3),
                "achieved_per_s": round(len(ops) / elapsed, 1) if elapsed > 0 else None,
                "errors": state["errors"]}

    def wanted(self) -> set[str]:
        """The wanted set from the API itself (the truth, whatever a request returned)."""
        listing = self.ctx.kube.list("Pod", "churn")
        churn = {f"{item['metadata']['annotations']['ovn.kubernetes.io/ip_address']}/32"
                 for item in listing.get("items", [])}
        return self.base | churn


def diagnose(ctx: Ctx, watch: RibWatch, wanted: set[str], rib: set[str]) -> dict[str, Any]:
    """Why the router's RIB is not the wanted set: what the speaker itself believes.

    A leaked prefix the speaker still wants means its cache kept a deleted pod (a
    DELETED event it never handled); one it no longer wants but still lists in its
    Adj-RIB-Out means the withdrawal never left Ryu; one in neither means the
    withdrawal was lost between the two.  The speaker's log goes to the results.
    """
    extra, missing = sorted(rib - wanted), sorted(wanted - rib)
    out: dict[str, Any] = {"extra_sample": extra[:10], "missing_sample": missing[:10]}
    try:
        wants = {row["prefix"] for row in json.loads(ctx.speaker.fetch("/bgp/announcements"))}
        adj_out = {row["prefix"] for row in json.loads(ctx.speaker.fetch(
            f"/bgp/neighbors/{ctx.side.v4}/adj-out"))}
        out["extra_still_wanted_by_speaker"] = sum(p in wants for p in extra)
        out["extra_in_speaker_adj_out"] = sum(p in adj_out for p in extra)
        out["missing_wanted_by_speaker"] = sum(p in wants for p in missing)
        out["missing_in_speaker_adj_out"] = sum(p in adj_out for p in missing)
        metrics = ctx.speaker.fetch("/metrics").splitlines()
        out["speaker_metrics"] = [m for m in metrics if not m.startswith("#") and any(
            w in m for w in ("watch", "relist", "restart", "error", "drop", "queue"))][:40]
    except Exception as exc:  # diagnosis is best effort
        out["error"] = f"{type(exc).__name__}: {exc}"
    later = watch.wait_equal(30)
    out["converged_within_30s_more"] = later is not None
    log_copy = RESULTS / "churn_failure_speaker.log"
    with contextlib.suppress(Exception):
        log_copy.write_text("\n".join(ctx.speaker.log_text().splitlines()[-3000:]) + "\n")
        out["speaker_log"] = str(log_copy)
    log(f"churn diagnosis: {out}")
    return out


def churn(ctx: Ctx, rates: tuple[int, ...], seconds: float) -> dict[str, Any]:
    """The highest rate of pod changes after which the router's RIB is exact within 1 s."""
    watch = RibWatch(ctx.side.ns, ctx.stubs, ctx.router.grpc_port, init=True)
    driver = Churn(ctx)
    steps: list[dict[str, Any]] = []
    best: float | None = None
    limited_by = None
    try:
        watch.wait_live(ctx.router)
        watch.expect(driver.base, time.monotonic())
        if watch.wait_equal(10) is None:
            raise RuntimeError(f"router RIB != wanted before churn: {watch.mismatch()}")
        for rate in rates:
            ops = driver.plan(int(rate * seconds))
            run = driver.run(ops, rate)
            wanted = driver.wanted()
            watch.expect(wanted, run["t_stop"])
            t_eq = watch.wait_equal(10)
            stable = t_eq is not None
            if stable:  # still equal a second later: converged, not passing through
                time.sleep(1.0)
                stable = watch.equal_since is not None and watch.equal_since == t_eq
            converge = round(max(0.0, t_eq - run["t_stop"]), 3) if t_eq is not None else None
            rib = set(ctx.router.rib("ipv4"))  # one full dump: the exact set, not counters
            exact = rib == wanted
            ok = bool(stable and exact and converge is not None and converge <= 1.0)
            step = {"offered_per_s": rate, **{k: v for k, v in run.items() if k != "t_stop"},
                    "changes": len(ops), "converge_s": converge, "rib_exact": exact,
                    "missing": len(wanted - rib), "extra": len(rib - wanted), "pass": ok}
            if not exact:
                step["diagnosis"] = diagnose(ctx, watch, wanted, rib)
            steps.append(step)
            log(f"churn {rate}/s: achieved {run['achieved_per_s']}/s, converged in "
                f"{converge} s, exact={exact}, pass={ok}")
            generator_bound = (run["achieved_per_s"] or 0) < 0.8 * rate
            if ok:
                best = max(best or 0.0, float(run["achieved_per_s"] or 0))
            if not ok:
                limited_by = f"the speaker: it did not converge within 1 s at {rate}/s offered"
                break
            if generator_bound:
                limited_by = (f"load generator and emulated API server: offered {rate}/s, "
                              f"achieved {run['achieved_per_s']}/s")
                break
        else:
            limited_by = (f"the ladder's top step ({rates[-1]}/s offered): the speaker "
                          "converged within 1 s at every step")
    finally:
        watch.stop()
    return {"churn_max_rate_per_s": best, "churn_limited_by": limited_by,
            "churn_step_s": seconds, "churn_steps": steps}


# --------------------------------------------------------------------------- profiles


def pyspy() -> str | None:
    found = Path(sys.executable).parent / "py-spy"
    return str(found) if found.exists() else shutil.which("py-spy")


@contextlib.contextmanager
def profiling(pid: int, out: Path, rate: int = 100,
              idle: bool = False) -> Iterator[dict[str, Any]]:
    """py-spy on ``pid`` (non-blocking, collapsed stacks) for the duration of the block.

    With ``idle`` the samples of a waiting thread count too (percentages are then of
    wall-clock time, and waiting for I/O shows); without, only busy samples count.
    """
    info: dict[str, Any] = {"file": str(out), "idle_samples_included": idle}
    exe = pyspy()
    if exe is None:
        info["error"] = "py-spy not installed"
        yield info
        return
    harness.interpreter_ready(pid)
    argv = [exe, "record", "--pid", str(pid), "--rate", str(rate), "--nonblocking",
            "--nolineno", "--format", "raw", "--output", str(out)] + (["--idle"] if idle else [])
    for _ in range(20):  # py-spy refuses a process whose interpreter is not set up yet
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                start_new_session=True)
        time.sleep(0.25)
        if proc.poll() is None:
            break
    try:
        yield info
    finally:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGINT)
        try:
            _, err = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, err = proc.communicate()
        if out.exists():
            info.update(tools.summarize_collapsed(out.read_text().splitlines()))
        else:
            info["error"] = (err or b"").decode(errors="replace")[-500:]


def profile_bulk(ctx: Ctx, timeout: float) -> dict[str, Any]:
    """A second cold start with py-spy attached (not the measured one)."""
    fresh_router(ctx)
    poller = PeerPoller(ctx.side.ns, ctx.stubs, ctx.router.grpc_port, ctx.side.speaker_v4,
                        POLL_INTERVAL)
    poller.wait_ready()
    _, pid = start_speaker(ctx)
    out = RESULTS / f"profile_bulk_{label(ctx.pods)}.txt"
    try:
        with profiling(pid, out, idle=True) as info:
            t0 = time.monotonic()
            with contextlib.suppress(TimeoutError, RuntimeError):
                poller.wait_accepted(ctx.want, timeout)
            info["profiled_run_delivery_s"] = round(time.monotonic() - t0, 3)
    finally:
        poller.stop()
        stop_speaker(ctx)
    return info


# --------------------------------------------------------------------------- the run


def meta(scale: str) -> dict[str, Any]:
    def cmd(*argv: str) -> str:
        with contextlib.suppress(Exception):
            return subprocess.run(argv, capture_output=True, text=True,
                                  timeout=10).stdout.strip()
        return ""

    root = str(HERE.parent)
    return {
        "scale": scale,
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "commit": cmd("git", "-C", root, "log", "--oneline", "-1"),
        "ryu_kovn_uncommitted": cmd("git", "-C", root, "status", "--porcelain", "--",
                                    "ryu_kovn").splitlines(),
        "speaker_build": harness.installed_build(),
        "gobgpd": cmd("gobgpd", "--version"),
        "python": platform.python_version(),
        "kernel": platform.release(),
        "cpus": os.cpu_count(),
        "activity_at_start": harness.foreign_activity(),
    }


def check_environment() -> None:
    problems = []
    if os.geteuid() != 0:
        problems.append("run as root (network namespaces, port 179)")
    for tool in ("ip", "gobgpd", "gobgp"):
        if shutil.which(tool) is None:
            problems.append(f"{tool} missing (Debian: gobgpd, iproute2)")
    for module in ("grpc", "grpc_tools", "matplotlib", "aiohttp"):
        try:
            __import__(module)
        except ImportError:
            problems.append(f"Python module {module} missing: pip install '.[emulator,bench]'")
    if not harness.PROTO_DIR.is_dir():
        problems.append("gobgpd's .proto files missing: apt-get install "
                        "golang-github-osrg-gobgp-dev")
    if problems:
        sys.exit("bench: cannot run:\n  " + "\n  ".join(problems))


def merge(results: dict[str, Any], series: dict[str, Any], part: dict[str, Any]) -> None:
    series.update(part.pop("_series", {}))
    results.update(part)


def attempt(results: dict[str, Any], series: dict[str, Any], name: str, fn: Any,
            *args: Any) -> bool:
    """Run one scenario; a failure is recorded under ``errors`` and the run goes on."""
    try:
        merge(results, series, fn(*args))
        return True
    except Exception as exc:  # one broken scenario must not lose the others' figures
        log(f"{name} FAILED: {type(exc).__name__}: {exc}")
        results.setdefault("errors", {})[name] = f"{type(exc).__name__}: {exc}"[:2000]
        return False


def run(scale_name: str, scale: Scale, profile: str) -> dict[str, Any]:
    results: dict[str, Any] = {"meta": meta(scale_name)}
    series: dict[str, Any] = {}
    profiles: dict[str, Any] = {}
    builds: list[dict[str, Any]] = []
    started = time.monotonic()
    RESULTS.mkdir(parents=True, exist_ok=True)
    for old in [*RESULTS.glob("profile_*.txt"), *RESULTS.glob("*_speaker.log")]:
        old.unlink()
    with tempfile.TemporaryDirectory(prefix="rk-bench-") as tmp_name:
        tmp = Path(tmp_name)
        stubs = harness.generate_stubs(tmp / "stubs")
        for n in scale.bulk:
            with make_lab(tmp / f"lab{label(n)}", stubs, n) as ctx:
                k = label(n)
                results[f"activity_lab_{k}"] = ctx.activity
                up = attempt(results, series, f"bulk_{k}", bulk_ours, ctx, scale.bulk_timeout_s)
                if n == 10_000 and up and ctx.speaker_pid is not None:
                    attempt(results, series, "idle", idle, ctx, scale.idle_s)
                    attempt(results, series, "latency", latency, ctx, scale.latency_n)
                    attempt(results, series, "churn", churn, ctx, scale.churn_rates,
                            scale.churn_s)
                    verdict = tools.evaluate(results)
                    if profile == "always" or (
                            profile == "auto" and verdict["idle_cpu"]["pass"] is False):
                        with profiling(ctx.speaker_pid or 0,
                                       RESULTS / "profile_idle.txt") as info:
                            time.sleep(min(scale.idle_s, 20))
                        profiles["idle"] = info
                    if profile == "always" or (
                            profile == "auto" and verdict["latency_p99"]["pass"] is False):
                        with profiling(ctx.speaker_pid or 0,
                                       RESULTS / "profile_latency.txt") as info:
                            info["rerun"] = latency(ctx, min(200, scale.latency_n))
                            info["rerun"].pop("_series", None)
                        profiles["latency"] = info
                stop_speaker(ctx)
                attempt(results, series, f"gobgp_{k}", bulk_gobgp, ctx, "cold",
                        scale.bulk_timeout_s)
                attempt(results, series, f"gobgp_{k}_inject_after", bulk_gobgp, ctx, "after",
                        scale.bulk_timeout_s)
                for suffix, ours, theirs in (
                        ("", f"bulk_{k}_delivery_s", f"gobgp_{k}_delivery_s"),
                        ("_from_established", f"bulk_{k}_delivery_from_established_s",
                         f"gobgp_{k}_delivery_from_established_s")):
                    if results.get(ours) and results.get(theirs):
                        results[f"ratio_ours_to_gobgp_{k}{suffix}"] = round(
                            results[ours] / results[theirs], 2)
                if n == max(scale.bulk):
                    # From session up: GoBGP's time from its start is mostly its connect
                    # timer (first attempt after 5-9 s, minConnectRetryInterval), not work.
                    results["ratio_ours_to_gobgp"] = results.get(
                        f"ratio_ours_to_gobgp_{k}_from_established")
                    results["ratio_ours_to_gobgp_basis"] = (
                        f"bulk_{k}_delivery_from_established_s / "
                        f"gobgp_{k}_delivery_from_established_s")
                verdict = tools.evaluate(results)
                missed = any(verdict[t]["pass"] is False for t in
                             ("delivery_100k", "ratio_to_gobgp")) and n == 100_000
                if profile == "always" or (profile == "auto" and missed):
                    profiles[f"bulk_{k}"] = profile_bulk(ctx, scale.bulk_timeout_s)
                builds += ctx.builds
    digests = {b["modules_sha256"] for b in builds}
    results["meta"]["speaker_builds_seen"] = sorted(digests)
    versus = harness.compare_with_head()
    results["meta"]["installed_vs_head"] = versus
    results["meta"]["measured_build_is_head"] = (
        len(digests) == 1 and not versus.get("differs") and not versus.get("missing")
        and "error" not in versus)
    results["meta"]["activity_at_end"] = harness.foreign_activity()
    if len(digests) > 1:
        results["meta"]["warning"] = ("the installed speaker changed during the run "
                                      "(someone reinstalled it): figures mix builds")
    results["targets"] = tools.evaluate(results)
    results["profiles"] = profiles
    results["series"] = series
    results["meta"]["duration_s"] = round(time.monotonic() - started, 1)
    return results


def main(argv: list[str] | None = None) -> int:
    global RESULTS
    parser = argparse.ArgumentParser(description="issue 6's benchmark (see README.md)")
    parser.add_argument("--scale", choices=sorted(SCALES),
                        default=os.environ.get("BENCH_SCALE", "full"))
    parser.add_argument("--profile", choices=("auto", "always", "never"),
                        default=os.environ.get("BENCH_PROFILE", "auto"),
                        help="py-spy profiles: where a target is missed (auto), always, never")
    parser.add_argument("--out", type=Path, default=RESULTS / "latest.json")
    parser.add_argument("--churn-rates", help="comma-separated changes/s, e.g. 800,1600")
    parser.add_argument("--churn-seconds", type=float, help="length of each churn step")
    parser.add_argument("--wait-quiet", type=float,
                        default=float(os.environ.get("BENCH_WAIT_QUIET", "0")),
                        help="first wait up to this many seconds for other labs and test "
                             "runs on the machine to finish")
    args = parser.parse_args(argv)
    RESULTS = args.out.resolve().parent  # profiles and failure logs go beside the JSON
    check_environment()
    deadline = time.monotonic() + args.wait_quiet
    while args.wait_quiet and harness.foreign_activity()["others"]:
        if time.monotonic() > deadline:
            log("other activity goes on; measuring anyway (see meta.activity_at_start)")
            break
        time.sleep(5)
    scale = SCALES[args.scale]
    if args.churn_rates:
        scale = replace(scale, churn_rates=tuple(int(r) for r in args.churn_rates.split(",")))
    if args.churn_seconds:
        scale = replace(scale, churn_s=args.churn_seconds)
    results = run(args.scale, scale, args.profile)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1) + "\n")
    png = args.out.with_suffix(".png")
    import plot

    plot.render(results, png)
    print(tools.table(tools.summary_rows(results),
                      ("figure", "target", "ours", "GoBGP", "pass")))
    for name, info in results["profiles"].items():
        top = ", ".join(f"{f} {p}%" for f, p in (info.get("self") or [])[:5])
        print(f"profile {name}: {info.get('file')} ({info.get('samples', 0)} samples): {top}")
    if "warning" in results["meta"]:
        print(f"WARNING: {results['meta']['warning']}")
    print(f"wrote {args.out} and {png} in {results['meta']['duration_s']} s")
    for name, error in (results.get("errors") or {}).items():
        print(f"ERROR in {name}: {error}")
    return 1 if results.get("errors") else 0  # a missed target is a figure, not an error


if __name__ == "__main__":
    sys.exit(main())
