"""Network-namespace lab for integration tests.

Every test topology lives in namespaces created here, so nothing a test does
(routes, listening sockets, BGP sessions) can reach the host's own network.
Only documentation ranges (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24,
2001:db8::/32) and loopback are ever configured.

Namespace names embed the pid of the pytest process that owns them
(``rk<pid>x<token>-<short>``): a run that was killed hard leaves them behind,
and the next ``Lab`` removes exactly those whose owner is gone, without
touching the labs of a concurrent test run on the same machine.
"""

from __future__ import annotations

import atexit
import contextlib
import ipaddress
import json
import logging
import os
import re
import secrets
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

log = logging.getLogger(__name__)

NS_PREFIX = "rk"
NETNS_DIR = Path("/run/netns")
DEFAULT_TIMEOUT = 30.0
# Linux IFNAMSIZ is 16 including the terminating NUL.
IFNAME_MAX = 15
_NS_RE = re.compile(rf"^{NS_PREFIX}(?P<pid>\d+)x(?P<token>[0-9a-f]+)-(?P<short>.+)$")

T = TypeVar("T")


class CommandError(RuntimeError):
    """A command failed; carries its output so the test report explains why."""

    def __init__(self, argv: Sequence[str], returncode: int | None, stdout: str, stderr: str):
        self.argv = list(argv)
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr
        super().__init__(
            f"command {' '.join(self.argv)!r} failed (rc={returncode})\n"
            f"--- stdout ---\n{stdout.rstrip()}\n--- stderr ---\n{stderr.rstrip()}"
        )


def run(
    argv: Sequence[str], check: bool = True, timeout: float = DEFAULT_TIMEOUT
) -> subprocess.CompletedProcess[str]:
    """Run a command in the root namespace (only used for namespace plumbing)."""
    try:
        proc = subprocess.run(
            list(argv),
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout.decode() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        err = exc.stderr.decode() if isinstance(exc.stderr, bytes) else (exc.stderr or "")
        raise CommandError(argv, None, out, err + f"\n(timed out after {timeout}s)") from exc
    if check and proc.returncode != 0:
        raise CommandError(argv, proc.returncode, proc.stdout, proc.stderr)
    return proc


def _describe(value: object, limit: int = 2000) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "...(truncated)"


def wait_for(
    predicate: Callable[[], T],
    timeout: float,
    interval: float = 0.05,
    message: str = "condition not met",
) -> T:
    """Poll until ``predicate()`` is truthy and return that value.

    Exceptions from the predicate count as "not yet" because daemons often
    refuse queries while they start; the last one is reported on timeout so a
    persistent error is still visible.
    """
    deadline = time.monotonic() + timeout
    last: object = "<never evaluated>"
    while True:
        try:
            value = predicate()
        except Exception as exc:  # the condition is simply not met yet
            last = exc
        else:
            if value:
                return value
            last = value
        if time.monotonic() >= deadline:
            raise AssertionError(f"{message} (after {timeout}s; last observed: {_describe(last)})")
        time.sleep(interval)


def ensure_never(
    predicate: Callable[[], object],
    duration: float,
    interval: float = 0.1,
    message: str = "condition unexpectedly became true",
) -> None:
    """Assert that ``predicate()`` stays falsy for the whole ``duration``.

    Negative tests ("the session must NOT come up") need a bounded observation
    window that fails as soon as the forbidden state shows up, rather than a
    sleep followed by a single check that could miss a transient state.
    """
    deadline = time.monotonic() + duration
    while True:
        value = predicate()
        if value:
            raise AssertionError(f"{message} (observed: {_describe(value)})")
        if time.monotonic() >= deadline:
            return
        time.sleep(interval)


def stop_group(proc: subprocess.Popen[Any] | None, sig: int = signal.SIGTERM,
               timeout: float = 5.0) -> None:
    """Signal the process group *proc* leads, wait, and SIGKILL it if it is still there."""
    if proc is None or proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, sig)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _kill_pids(pids: Sequence[int], grace: float = 2.0) -> None:
    """SIGTERM, wait a little, then SIGKILL whatever is left."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        alive = []
        for pid in pids:
            try:
                os.kill(pid, sig)
                alive.append(pid)
            except ProcessLookupError:
                pass
        if not alive:
            return
        if sig == signal.SIGKILL:
            return
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and any(_pid_alive(p) for p in alive):
            time.sleep(0.05)
        pids = [p for p in alive if _pid_alive(p)]


def _ns_pids(name: str) -> list[int]:
    proc = run(["ip", "netns", "pids", name], check=False)
    return [int(tok) for tok in proc.stdout.split() if tok.isdigit()]


def _delete_ns(name: str) -> None:
    _kill_pids(_ns_pids(name))
    run(["ip", "netns", "del", name], check=False)


def reap_stale_namespaces(prefix: str = NS_PREFIX) -> list[str]:
    """Delete lab namespaces whose owning test process no longer exists.

    Namespaces of live owners are left alone so that two test runs on the same
    machine (or a nested pytest) never tear down each other's labs.
    """
    if not NETNS_DIR.is_dir():
        return []
    reaped = []
    for entry in sorted(NETNS_DIR.iterdir()):
        m = _NS_RE.match(entry.name)
        if not m or not entry.name.startswith(prefix):
            continue
        if _pid_alive(int(m.group("pid"))):
            continue
        log.warning("reaping stale namespace %s", entry.name)
        _delete_ns(entry.name)
        reaped.append(entry.name)
    return reaped


def _is_v6(cidr_or_addr: str) -> bool:
    return ":" in cidr_or_addr


class Netns:
    """One network namespace; every command it runs is confined to it."""

    def __init__(self, lab: Lab, short: str, name: str):
        self.lab = lab
        self.short = short
        self.name = name

    def __repr__(self) -> str:
        return f"Netns({self.name!r})"

    def _wrap(self, argv: Sequence[str]) -> list[str]:
        return ["ip", "netns", "exec", self.name, *[str(a) for a in argv]]

    def run(
        self, argv: Sequence[str], check: bool = True, timeout: float = DEFAULT_TIMEOUT
    ) -> subprocess.CompletedProcess[str]:
        return run(self._wrap(argv), check=check, timeout=timeout)

    def popen(self, argv: Sequence[str], **kw: Any) -> subprocess.Popen[Any]:
        """Start a long-running process; the lab kills its whole group on close.

        A new session (process group) lets cleanup kill helpers the process
        may fork, and keeps Ctrl-C in the terminal from reaching daemons
        before the fixture finalizers run.
        """
        kw.setdefault("stdin", subprocess.DEVNULL)
        kw["start_new_session"] = True
        proc = subprocess.Popen(self._wrap(argv), **kw)
        self.lab._track(proc)
        return proc

    def sysctl(self, key: str, value: str | int) -> None:
        self.run(["sysctl", "-q", "-w", f"{key}={value}"])

    def add_address(self, ifname: str, cidr: str) -> None:
        """Add an address; IPv6 uses ``nodad`` so BGP can bind to it at once."""
        argv = ["ip"]
        if _is_v6(cidr):
            argv += ["-6", "addr", "add", cidr, "dev", ifname, "nodad"]
        else:
            argv += ["addr", "add", cidr, "dev", ifname]
        self.run(argv)

    def add_route(self, dst: str, via: str) -> None:
        self.run(["ip", "-6" if _is_v6(dst) else "-4", "route", "replace", dst, "via", via])

    def enable_forwarding(self) -> None:
        self.sysctl("net.ipv4.ip_forward", 1)
        self.sysctl("net.ipv6.conf.all.forwarding", 1)

    def link_set(self, ifname: str, up: bool) -> None:
        self.run(["ip", "link", "set", ifname, "up" if up else "down"])

    def addresses(self, ifname: str | None = None) -> list[dict[str, Any]]:
        """``ip -j addr`` flattened to one dict per address (with its flags)."""
        argv = ["ip", "-j", "addr", "show"] + (["dev", ifname] if ifname else [])
        out = []
        for link in json.loads(self.run(argv).stdout or "[]"):
            for info in link.get("addr_info", []):
                out.append({"ifname": link.get("ifname"), **info})
        return out

    def address_ready(self, address: str) -> bool:
        """True when ``address`` is configured and no longer tentative/dadfailed."""
        want = ipaddress.ip_address(address)
        for info in self.addresses():
            if ipaddress.ip_address(info["local"]) == want:
                return not info.get("tentative") and not info.get("dadfailed")
        return False

    def wait_address_ready(self, address: str, timeout: float = 10.0) -> None:
        wait_for(
            lambda: self.address_ready(address),
            timeout,
            message=f"{address} not usable in {self.name}",
        )

    def ping(self, dst: str, ttl: int | None = None, timeout_s: int = 1) -> bool:
        argv = ["ping", "-n", "-q", "-c", "1", "-W", str(timeout_s)]
        if ttl is not None:
            argv += ["-t", str(ttl)]
        return self.run([*argv, dst], check=False, timeout=timeout_s + 5).returncode == 0

    def wait_ping(self, dst: str, timeout: float = 10.0) -> None:
        wait_for(lambda: self.ping(dst), timeout, message=f"{self.name} cannot ping {dst}")

    def tcp_sockets(self) -> str:
        """``ss -tanp`` output, handy in failure messages."""
        return self.run(["ss", "-tanp"], check=False).stdout

    def netstat_counters(self) -> dict[str, int]:
        """TcpExt/IpExt counters of this namespace (e.g. TCPMD5Failure)."""
        text = self.run(["cat", "/proc/net/netstat"]).stdout.splitlines()
        counters: dict[str, int] = {}
        for head, vals in zip(text[::2], text[1::2], strict=False):
            names = head.split()
            values = vals.split()
            group = names[0].rstrip(":")
            for key, val in zip(names[1:], values[1:], strict=False):
                counters[f"{group}.{key}"] = int(val)
        return counters


@dataclass(frozen=True)
class TwoHop:
    """A — R — B, with R forwarding; addresses are bare (no prefix length)."""

    a: Netns
    router: Netns
    b: Netns
    a_if: str
    b_if: str
    a4: str
    b4: str
    a6: str
    b6: str
    r_a4: str  # R's address on A's link (A's gateway)
    r_b4: str
    r_a6: str
    r_b6: str


class Lab:
    """Owns namespaces and processes; ``close()`` removes all of them.

    Use as a context manager or via the ``lab`` fixture. Namespaces are
    created with IPv6 DAD disabled so link-local and global addresses are
    usable immediately (no flaky first seconds).
    """

    def __init__(self, prefix: str = NS_PREFIX):
        if not prefix.isalnum():
            raise ValueError("prefix must be alphanumeric")
        self.prefix = prefix
        self.token = secrets.token_hex(2)
        self._namespaces: dict[str, Netns] = {}
        self._procs: list[subprocess.Popen[Any]] = []
        self._ifcount: dict[str, int] = {}
        self._lock = threading.Lock()
        self._closed = False
        self._on_close: list[Callable[[], object]] = []
        reap_stale_namespaces(prefix)
        atexit.register(self.close)

    def __enter__(self) -> Lab:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def namespaces(self) -> list[Netns]:
        return list(self._namespaces.values())

    def _track(self, proc: subprocess.Popen[Any]) -> None:
        with self._lock:
            if self._closed:
                proc.kill()
                raise RuntimeError("lab is closed")
            self._procs.append(proc)

    def ns(self, short: str) -> Netns:
        if not re.fullmatch(r"[a-z0-9]{1,12}", short):
            raise ValueError(f"short namespace name must be [a-z0-9]{{1,12}}: {short!r}")
        if short in self._namespaces:
            raise ValueError(f"namespace {short!r} already exists in this lab")
        if self._closed:
            raise RuntimeError("lab is closed")
        name = f"{self.prefix}{os.getpid()}x{self.token}-{short}"
        run(["ip", "netns", "add", name])
        ns = Netns(self, short, name)
        self._namespaces[short] = ns
        ns.run(["ip", "link", "set", "lo", "up"])
        for scope in ("all", "default"):
            ns.sysctl(f"net.ipv6.conf.{scope}.accept_dad", 0)
            ns.sysctl(f"net.ipv6.conf.{scope}.dad_transmits", 0)
            # Nothing to autoconfigure from; keeps captures free of RS noise.
            ns.sysctl(f"net.ipv6.conf.{scope}.router_solicitations", 0)
        return ns

    def _ifname(self, ns: Netns, peer: Netns) -> str:
        n = self._ifcount.get(ns.name, 0)
        self._ifcount[ns.name] = n + 1
        return f"{peer.short[: IFNAME_MAX - 3]}{n}"

    def link(
        self,
        a: Netns,
        b: Netns,
        a_addrs: Sequence[str] = (),
        b_addrs: Sequence[str] = (),
    ) -> tuple[str, str]:
        """Veth pair created directly inside both namespaces, addressed and up.

        Interface names are the peer's short name plus a per-namespace index
        (e.g. ``bird0`` inside the gobgp namespace), so a capture or ``ip
        addr`` output says where a link leads.
        """
        a_if, b_if = self._ifname(a, b), self._ifname(b, a)
        run(
            [
                "ip", "link", "add", a_if, "netns", a.name, "type", "veth",
                "peer", "name", b_if, "netns", b.name,
            ]
        )  # fmt: skip
        for ns, ifname, addrs in ((a, a_if, a_addrs), (b, b_if, b_addrs)):
            for cidr in addrs:
                ns.add_address(ifname, cidr)
            ns.link_set(ifname, True)
        for ns, addrs in ((a, a_addrs), (b, b_addrs)):
            for cidr in addrs:
                ns.wait_address_ready(cidr.split("/")[0])
        return a_if, b_if

    def two_hop(
        self,
        a: Netns,
        b: Netns,
        router_short: str = "mid",
        left4: str = "192.0.2.0/26",
        right4: str = "192.0.2.64/26",
        left6: str = "2001:db8:a::/64",
        right6: str = "2001:db8:b::/64",
    ) -> TwoHop:
        """A and B, one forwarding router apart (IP TTL is decremented once).

        A gets the first host of the left subnets, B the first host of the
        right ones, the router the last host of each; A and B get routes to
        each other's subnet via the router. Returns when A can ping B.
        """
        router = self.ns(router_short)
        router.enable_forwarding()
        nets = {k: ipaddress.ip_network(v) for k, v in
                {"l4": left4, "r4": right4, "l6": left6, "r6": right6}.items()}  # fmt: skip

        def first(n: ipaddress.IPv4Network | ipaddress.IPv6Network) -> str:
            return str(n.network_address + 1)

        def last(n: ipaddress.IPv4Network | ipaddress.IPv6Network) -> str:
            return str(n.network_address + (n.num_addresses - 2))

        def cidr(addr: str, n: ipaddress.IPv4Network | ipaddress.IPv6Network) -> str:
            return f"{addr}/{n.prefixlen}"

        a4, a6 = first(nets["l4"]), first(nets["l6"])
        b4, b6 = first(nets["r4"]), first(nets["r6"])
        ra4, ra6 = last(nets["l4"]), last(nets["l6"])
        rb4, rb6 = last(nets["r4"]), last(nets["r6"])
        a_if, _ = self.link(
            a, router, [cidr(a4, nets["l4"]), cidr(a6, nets["l6"])],
            [cidr(ra4, nets["l4"]), cidr(ra6, nets["l6"])],
        )  # fmt: skip
        b_if, _ = self.link(
            b, router, [cidr(b4, nets["r4"]), cidr(b6, nets["r6"])],
            [cidr(rb4, nets["r4"]), cidr(rb6, nets["r6"])],
        )  # fmt: skip
        a.add_route(str(nets["r4"]), ra4)
        a.add_route(str(nets["r6"]), ra6)
        b.add_route(str(nets["l4"]), rb4)
        b.add_route(str(nets["l6"]), rb6)
        a.wait_ping(b4)
        a.wait_ping(b6)
        return TwoHop(a, router, b, a_if, b_if, a4, b4, a6, b6, ra4, rb4, ra6, rb6)

    def on_close(self, callback: Callable[[], object]) -> None:
        """Run *callback* first when the lab closes (helpers outside the namespaces)."""
        self._on_close.append(callback)

    def close(self) -> None:
        """Run on_close callbacks, kill tracked processes (TERM, then KILL), delete namespaces.

        Idempotent; every step tolerates partial failure so one stuck process
        cannot leave namespaces behind.
        """
        with self._lock:
            if self._closed:
                return
            self._closed = True
            procs, self._procs = self._procs, []
            callbacks, self._on_close = self._on_close, []
        for callback in reversed(callbacks):
            try:
                callback()
            except Exception:
                log.exception("on_close callback %r failed", callback)
        for proc in procs:
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + 3.0
        for proc in procs:
            try:
                proc.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
        for proc in procs:
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                try:
                    proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    log.error("process %s survived SIGKILL", proc.pid)
        for ns in reversed(list(self._namespaces.values())):
            try:
                _delete_ns(ns.name)
            except Exception:
                log.exception("failed to delete namespace %s", ns.name)
        self._namespaces.clear()
        atexit.unregister(self.close)
