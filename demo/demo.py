"""``make demo``: a kube-ovn cluster, the speaker and a real router, on loopback, no root.

An emulated Kubernetes API server (the one the tests use) serves the scene in
``demo/scene.yaml``; a real BGP router plays the data-centre router on
127.0.0.2: gobgpd when it is installed, else ExaBGP from PyPI; and
``ryu-manager ryu_kovn.app`` runs as the speaker of node "node-a" and peers
with it from 127.0.0.1.  The demo changes objects through the API and shows
the router's own table gain and lose routes.  Everything started here is
stopped before it exits, on success or failure; its files live in a temporary
directory that is removed at the end.

Environment:
  RYU_KOVN_DEMO_ROUTER  ``gobgp`` or ``exabgp`` forces the router; unset or
                        ``auto``: gobgpd when on PATH, else ExaBGP.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
BIN = Path(sys.executable).parent
SCENE = HERE / "scene.yaml"
RIB_HELPER = HERE / "exabgp_rib.py"
sys.path.insert(0, str(ROOT / "tests"))  # the emulated API server is a test fixture, reused

from kubeapi.harness import KubeAPI  # noqa: E402

ROUTER = "127.0.0.2"
SPEAKER = "127.0.0.1"
CLUSTER_AS, ROUTER_AS = 65010, 65000
ROUTER_ENV = "RYU_KOVN_DEMO_ROUTER"
EXABGP_INSTALL = f"make demo installs it, or: {BIN / 'pip'} install 'exabgp >= 5.0.2, < 6'"


def free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def say(text: str) -> None:
    """A step's title."""
    print(f"\n=== {text}", flush=True)


def explain(text: str) -> None:
    """What the step does and why, for a newcomer."""
    print("\n".join("  " + line for line in text.strip().splitlines()), flush=True)


def show(text: str) -> None:
    """A program's own output, indented."""
    print("\n".join("    " + line for line in text.rstrip().splitlines()), flush=True)


class DemoError(Exception):
    """A step did not happen; the logs tell why."""


class Processes:
    """The processes the demo started, each with its log file in the work directory."""

    def __init__(self, work: Path) -> None:
        self.work = work
        self.procs: list[tuple[str, subprocess.Popen[bytes]]] = []

    def spawn(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> None:
        with (self.work / f"{name}.log").open("wb") as log:
            proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, env=env)  # fmt: skip
        self.procs.append((name, proc))

    def check_alive(self) -> None:
        for name, proc in self.procs:
            if proc.poll() is not None:
                raise DemoError(f"{name} exited early with status {proc.returncode}")

    def wait_for(self, what: str, check: Callable[[], Any], timeout: float = 30) -> Any:
        """Call *check* until it returns something true; stop at once if a process died."""
        deadline = time.monotonic() + timeout
        while True:
            self.check_alive()
            try:
                value = check()
            except Exception:  # not up yet: no answer, no file, no session
                value = None
            if value:
                return value
            if time.monotonic() > deadline:
                raise DemoError(f"gave up waiting for {what} after {timeout:.0f} s")
            time.sleep(0.1)

    def stop_all(self) -> None:
        for _, proc in reversed(self.procs):
            if proc.poll() is None:
                proc.terminate()
        for _, proc in self.procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


# -- the routers --------------------------------------------------------------------------------


class GoBGP:
    """gobgpd, asked through its own CLI (gRPC) for its global RIB."""

    name = "gobgpd"
    command = "gobgp global rib"

    def __init__(self, procs: Processes, port: int) -> None:
        self.procs = procs
        self.port = port
        self.grpc_port = free_port(ROUTER)

    @staticmethod
    def available() -> bool:
        return shutil.which("gobgpd") is not None and shutil.which("gobgp") is not None

    def start(self) -> None:
        config = self.procs.work / "gobgpd.toml"
        config.write_text(
            f"""[global.config]
  as = {ROUTER_AS}
  router-id = "192.0.2.254"
  port = {self.port}
  local-address-list = ["{ROUTER}"]
[[neighbors]]
  [neighbors.config]
    neighbor-address = "{SPEAKER}"
    peer-as = {CLUSTER_AS}
  [neighbors.transport.config]
    passive-mode = true
"""
        )
        self.procs.spawn("gobgpd", ["gobgpd", "-f", str(config), "--pprof-disable",
                                    "--api-hosts", f"{ROUTER}:{self.grpc_port}"])  # fmt: skip
        self.procs.wait_for("gobgpd to answer", lambda: self.gobgp("neighbor").returncode == 0)

    def gobgp(self, *args: str) -> subprocess.CompletedProcess[str]:
        argv = ["gobgp", "-u", ROUTER, "-p", str(self.grpc_port), *args]
        return subprocess.run(argv, capture_output=True, text=True, timeout=10)

    def prefixes(self) -> set[str]:
        return set(json.loads(self.gobgp("global", "rib", "-j").stdout or "{}"))

    def table(self) -> str:
        return self.gobgp("global", "rib").stdout


ORIGIN = {"igp": "i", "egp": "e", "incomplete": "?"}  # as gobgp prints it


class ExaBGP:
    """ExaBGP, whose API process (exabgp_rib.py) keeps the table from the UPDATEs it received."""

    name = "ExaBGP"
    command = "ExaBGP's received UPDATEs, via its JSON API"

    def __init__(self, procs: Processes, port: int) -> None:
        self.procs = procs
        self.port = port
        self.rib = procs.work / "exabgp-rib.json"

    @staticmethod
    def available() -> bool:
        return importlib.util.find_spec("exabgp") is not None

    def start(self) -> None:
        work = self.procs.work
        # A copy next to the config: ExaBGP splits its `run` line on spaces.
        helper = work / RIB_HELPER.name
        shutil.copy(RIB_HELPER, helper)
        config = work / "exabgp.conf"
        config.write_text(
            f"""process rib {{
    run {sys.executable} {helper} {self.rib};
    encoder json;
}}
neighbor {SPEAKER} {{
    router-id 192.0.2.254;
    local-address {ROUTER};
    local-as {ROUTER_AS};
    peer-as {CLUSTER_AS};
    # Wait for the speaker on {ROUTER}:{self.port}; never connect out.
    passive true;
    listen {self.port};
    family {{
        ipv4 unicast;
    }}
    api {{
        processes [ rib ];
        receive {{ parsed; update; }}
        neighbor-changes;
    }}
}}
"""
        )
        env = dict(os.environ)
        env.update({
            "exabgp.tcp.bind": "",  # no listener but the neighbour's own, above
            "exabgp.api.cli": "false",  # no named pipes in /run
            "exabgp.daemon.daemonize": "false",
            "exabgp.log.destination": "stdout",
            "exabgp.log.short": "false",
            "exabgp.log.statistics": "false",
        })  # fmt: skip
        with contextlib.suppress(KeyError):  # a uid without a name: ExaBGP keeps its default
            # Run as root, ExaBGP drops to "nobody", who could not read the work directory:
            # "drop" to whoever runs the demo instead.
            env["exabgp.daemon.user"] = pwd.getpwuid(os.getuid()).pw_name
        self.procs.spawn("exabgp", [sys.executable, "-m", "exabgp", str(config)], env=env)
        # The API process starts once ExaBGP listens; it writes the empty table first.
        self.procs.wait_for("ExaBGP to listen", self.rib.exists)

    def state(self) -> dict[str, Any]:
        return json.loads(self.rib.read_text())

    def prefixes(self) -> set[str]:
        return set(self.state()["routes"])

    def table(self) -> str:
        routes = self.state()["routes"]
        now = time.time()
        lines = [f"   {'Network':<20} {'Next Hop':<20} {'AS_PATH':<20} {'Age':<10} Attrs"]
        for prefix, route in routes.items():
            age = int(now - route["since"])
            hms = f"{age // 3600:02d}:{age % 3600 // 60:02d}:{age % 60:02d}"
            path = " ".join("{" + " ".join(map(str, asn)) + "}" if isinstance(asn, list)
                            else str(asn) for asn in route["as-path"])  # fmt: skip
            origin = ORIGIN.get(route["origin"], route["origin"])
            lines.append(f"*> {prefix:<20} {route['next-hop']:<20} {path:<20} {hms:<10} "
                         f"[{{Origin: {origin}}}]")  # fmt: skip
        return "\n".join(lines) + "\n"


def choose_router() -> type[GoBGP] | type[ExaBGP]:
    wanted = os.environ.get(ROUTER_ENV, "auto").strip().lower() or "auto"
    if wanted in ("gobgp", "gobgpd"):
        if not GoBGP.available():
            raise DemoError(f"{ROUTER_ENV}={wanted}, but gobgpd or gobgp is not on PATH "
                            "(Debian package gobgpd)")  # fmt: skip
        return GoBGP
    if wanted == "exabgp":
        if not ExaBGP.available():
            raise DemoError(f"{ROUTER_ENV}=exabgp, but ExaBGP is not installed: {EXABGP_INSTALL}")
        return ExaBGP
    if wanted != "auto":
        raise DemoError(f"{ROUTER_ENV} must be gobgp, exabgp or auto, not {wanted!r}")
    if GoBGP.available():
        return GoBGP
    if ExaBGP.available():
        return ExaBGP
    raise DemoError("the demo needs a BGP router: gobgpd (Debian package gobgpd) or ExaBGP: "
                    + EXABGP_INSTALL)  # fmt: skip


# -- the story ----------------------------------------------------------------------------------


class Demo:
    def __init__(self, work: Path, router: type[GoBGP] | type[ExaBGP]) -> None:
        self.work = work
        self.procs = Processes(work)
        self.api = KubeAPI(load=[SCENE], workdir=work / "kubeapi")
        self.bgp_port = free_port(ROUTER)
        self.rest_port = free_port(SPEAKER)
        self.router = router(self.procs, self.bgp_port)

    def stop_all(self) -> None:
        self.procs.stop_all()
        self.api.close()

    # -- the speaker ------------------------------------------------------------------------

    def start_speaker(self) -> None:
        config = self.work / "ryu_kovn.conf"
        config.write_text(
            "[DEFAULT]\n"
            f"cluster_as = {CLUSTER_AS}\nneighbor_as = {ROUTER_AS}\n"
            f"neighbor_address = {ROUTER}\nneighbor_port = {self.bgp_port}\n"
            "router_id = 192.0.2.1\nholdtime = 9s\n"
            # The speaker plays a pod whose IP is 127.0.0.1 on node 192.0.2.10:
            # routers refuse a loopback next hop, node_ips replaces it.
            "node_ips = 192.0.2.10\n"
            "node_name = node-a\nannounce_cluster_ip = true\n"
            f"kubeconfig = {self.api.kubeconfig_path}\n"
        )
        env = dict(os.environ, POD_IP=SPEAKER)
        self.procs.spawn("ryu-manager", [str(BIN / "ryu-manager"), "ryu_kovn.app",
                                         "--config-file", str(config),
                                         "--wsapi-port", str(self.rest_port)],
                         env=env)  # fmt: skip

    def ctl(self, *args: str) -> str:
        argv = [str(BIN / "ryu-kovn-ctl"), "--url", f"http://{SPEAKER}:{self.rest_port}", *args]
        out = subprocess.run(argv, capture_output=True, text=True, timeout=10)
        if out.returncode != 0:
            raise DemoError(f"ryu-kovn-ctl {' '.join(args)} failed: {out.stderr.strip()}")
        return out.stdout

    def speaker_decisions(self) -> str:
        """The speaker's announced/withdrawn/skipped lines, time and message only."""
        lines = []
        for line in (self.work / "ryu-manager.log").read_text(errors="replace").splitlines():
            date, _, rest = line.partition(" ")
            if " ryu_kovn.reconcile: " in rest and date[:2] == "20":
                clock = rest.split(",", 1)[0]
                lines.append(f"{clock}  {rest.split(' ryu_kovn.reconcile: ', 1)[1]}")
        return "\n".join(lines)

    def established(self) -> bool:
        return json.loads(self.ctl("-j", "neighbor"))[0]["state"] == "established"

    def wait_router(self, what: str, wanted: Callable[[set[str]], bool]) -> None:
        """Wait until the router's own table satisfies *wanted*."""
        self.procs.wait_for(f"the router to {what}", lambda: wanted(self.router.prefixes()))

    def show_router(self, why: str) -> None:
        say(f"{why} -- the router's own table ({self.router.command}):")
        show(self.router.table())

    # -- the story ----------------------------------------------------------------------------

    def run(self) -> None:
        started = time.monotonic()
        print(
            "ryu-kovn demo: an emulated kube-ovn cluster, the speaker and a real BGP router,\n"
            "all on loopback (127.0.0.1, 127.0.0.2) with unprivileged ports, no root needed."
        )

        say(f"Starting an emulated Kubernetes API server with {SCENE.relative_to(ROOT)}")
        explain("""
It is the API server the tests use, in its own process, on a free port of 127.0.0.1.
The scene: three Subnets, five Pods and a Service; the annotation
ovn.kubernetes.io/bgp on each says what node-a's speaker announces.""")
        self.api.start()

        say(f"Starting the upstream router: {self.router.name}, AS {ROUTER_AS}, "
            f"on {ROUTER}:{self.bgp_port}")  # fmt: skip
        explain(f"""
It plays the data centre's router. It waits for the speaker (passive) and accepts
routes from AS {CLUSTER_AS}; everything below about routes is what it says it learned.""")
        self.router.start()

        say(f"Starting the speaker of node-a: ryu-manager ryu_kovn.app, AS {CLUSTER_AS}")
        explain(f"""
It lists and watches the API server, works out the wanted prefixes and connects
to the router from {SPEAKER}. Its REST API (for ryu-kovn-ctl) is on port {self.rest_port}.""")
        self.start_speaker()
        self.procs.wait_for("the BGP session", self.established)
        explain("The BGP session is up (ryu-kovn-ctl neighbor):")
        show(self.ctl("neighbor"))

        initial = {"10.16.0.0/16", "10.16.0.12/32", "10.70.0.10/32", "10.96.12.7/32"}
        self.wait_router("learn the scene", lambda rib: rib == initial)
        self.show_router("The scene is announced")
        explain("""
10.16.0.0/16   Subnet ovn-default, annotated "true" (cluster)
10.16.0.12/32  Pod shop/web-0, annotated "true"
10.70.0.10/32  Pod shop/cache-2 in Subnet edge, annotated "local", and it runs on node-a
10.96.12.7/32  Service shop/api, a ClusterIP (announce_cluster_ip = true)
Not announced: Subnet apps and its pod web-1 (no annotation), cache-1 ("local" but
on node-b), the pod "typo" (a bad value: one warning, shown at the end). Next hop 192.0.2.10
is node-a's address (node_ips), not the speaker's 127.0.0.1.""")

        say("kubectl annotate pod -n shop web-1 ovn.kubernetes.io/bgp=true")
        explain("The pod asks for its own address to be announced; the speaker sees the change "
                "on its watch.")  # fmt: skip
        self.api.annotate("Pod", "web-1", namespace="shop",
                          annotations={"ovn.kubernetes.io/bgp": "true"})  # fmt: skip
        self.wait_router("learn 10.20.0.13/32", lambda rib: "10.20.0.13/32" in rib)
        self.show_router("10.20.0.13/32 arrived")

        say("kubectl annotate subnet ovn-default ovn.kubernetes.io/bgp-")
        explain("The subnet stops asking: its CIDR is withdrawn, but web-0 (10.16.0.12/32) "
                "stays,\nbecause the pod carries its own annotation.")  # fmt: skip
        self.api.annotate("Subnet", "ovn-default", namespace=None,
                          annotations={"ovn.kubernetes.io/bgp": None})  # fmt: skip
        self.wait_router("drop 10.16.0.0/16", lambda rib: "10.16.0.0/16" not in rib)
        self.show_router("10.16.0.0/16 left")

        say(f"ryu-kovn-ctl neighbor {ROUTER} adj-out  (what the speaker sent)")
        explain("Now the speaker's side, through its REST API: the routes it sent the router.")
        show(self.ctl("neighbor", ROUTER, "adj-out"))
        say("ryu-kovn-ctl announcements  (what is wanted, and why)")
        explain("IPv6 addresses are wanted too; the router peers over IPv4 only in this demo.")
        show(self.ctl("announcements"))
        say(f"ryu-kovn-ctl neighbor {ROUTER}  (the session in detail)")
        show(self.ctl("neighbor", ROUTER))
        say("The speaker's log: what it decided, object by object (ryu_kovn.reconcile)")
        show(self.speaker_decisions())
        say(f"Done in {time.monotonic() - started:.1f} s; stopping everything.")


def print_logs(work: Path) -> None:
    for log in sorted(work.rglob("*.log")):
        print(f"\n--- {log.relative_to(work)} (last lines)", file=sys.stderr)
        tail = log.read_text(errors="replace").splitlines()[-30:]
        print("\n".join(tail), file=sys.stderr)


def main() -> int:
    try:
        router = choose_router()
    except DemoError as exc:
        print(f"demo: {exc}", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="ryu-kovn-demo-") as tmp:
        work = Path(tmp)
        demo = Demo(work, router)
        try:
            demo.run()
        except DemoError as exc:
            print(f"\ndemo failed: {exc}", file=sys.stderr)
            print_logs(work)
            return 1
        except BaseException:
            print_logs(work)
            raise
        finally:
            demo.stop_all()
    print("All stopped, temporary files removed.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
