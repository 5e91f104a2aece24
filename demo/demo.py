"""``make demo``: a kube-ovn cluster, the speaker and a real router, on loopback, no root.

An emulated Kubernetes API server (the one the tests use) serves the scene in
``demo/scene.yaml``; a gobgpd plays the data-centre router on 127.0.0.2;
``ryu-manager ryu_kovn.app`` runs as the speaker of node "node-a" and peers
with it from 127.0.0.1.  The demo changes objects through the API and shows
the router's own table gain and lose routes.  Everything started here is
stopped before it exits, on success or failure.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
SCENE = Path(__file__).resolve().with_name("scene.yaml")
sys.path.insert(0, str(ROOT / "tests"))  # the emulated API server is a test fixture, reused

from kubeapi.harness import KubeAPI  # noqa: E402

ROUTER = "127.0.0.2"
SPEAKER = "127.0.0.1"
CLUSTER_AS, ROUTER_AS = 65010, 65000


def free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def say(text: str) -> None:
    print(f"\n=== {text}", flush=True)


def show(text: str) -> None:
    print("\n".join("    " + line for line in text.rstrip().splitlines()), flush=True)


def wait_for(what: str, check: Callable[[], Any], timeout: float = 30) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(Exception):
            value = check()
            if value:
                return value
        if time.monotonic() > deadline:
            raise SystemExit(f"demo: gave up waiting for {what} after {timeout:.0f} s")
        time.sleep(0.1)


class Demo:
    def __init__(self, work: Path) -> None:
        self.work = work
        self.procs: list[subprocess.Popen[bytes]] = []
        self.api = KubeAPI(load=[SCENE], workdir=work / "kubeapi")
        self.bgp_port = free_port(ROUTER)
        self.grpc_port = free_port(ROUTER)
        self.rest_port = free_port(SPEAKER)

    def spawn(self, name: str, argv: list[str]) -> None:
        log = (self.work / f"{name}.log").open("wb")
        self.procs.append(subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT))

    def stop_all(self) -> None:
        self.api.close()
        for proc in reversed(self.procs):
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()

    # -- the router -----------------------------------------------------------

    def start_router(self) -> None:
        config = self.work / "gobgpd.toml"
        config.write_text(
            f"""[global.config]
  as = {ROUTER_AS}
  router-id = "192.0.2.254"
  port = {self.bgp_port}
  local-address-list = ["{ROUTER}"]
[[neighbors]]
  [neighbors.config]
    neighbor-address = "{SPEAKER}"
    peer-as = {CLUSTER_AS}
  [neighbors.transport.config]
    passive-mode = true
"""
        )
        self.spawn("gobgpd", ["gobgpd", "-f", str(config), "--pprof-disable",
                              "--api-hosts", f"{ROUTER}:{self.grpc_port}"])  # fmt: skip
        wait_for("gobgpd to answer", lambda: self.gobgp("neighbor").returncode == 0)

    def gobgp(self, *args: str) -> subprocess.CompletedProcess[str]:
        argv = ["gobgp", "-u", ROUTER, "-p", str(self.grpc_port), *args]
        return subprocess.run(argv, capture_output=True, text=True, timeout=10)

    # -- the speaker ----------------------------------------------------------

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
            f"node_name = node-a\nannounce_cluster_ip = true\n"
            f"kubeconfig = {self.api.kubeconfig_path}\n"
        )
        self.spawn("ryu-manager", ["env", f"POD_IP={SPEAKER}",
                                   str(BIN / "ryu-manager"), "ryu_kovn.app",
                                   "--config-file", str(config),
                                   "--wsapi-port", str(self.rest_port)])  # fmt: skip

    def url(self, path: str) -> str:
        return f"http://{SPEAKER}:{self.rest_port}{path}"

    def ctl(self, *args: str) -> str:
        argv = [str(BIN / "ryu-kovn-ctl"), "--url", self.url(""), *args]
        return subprocess.run(argv, capture_output=True, text=True, timeout=10, check=True).stdout

    def router_prefixes(self) -> set[str]:
        out = self.gobgp("global", "rib", "-j").stdout
        return set(json.loads(out or "{}"))

    # -- the story ------------------------------------------------------------

    def show_router(self, why: str) -> None:
        say(f"{why} -- the router's own table (gobgp global rib):")
        show(self.gobgp("global", "rib").stdout)

    def run(self) -> None:
        started = time.monotonic()
        say(f"Starting an emulated Kubernetes API server with {SCENE.name}")
        self.api.start()
        say(f"Starting the upstream router: gobgpd, AS {ROUTER_AS}, on {ROUTER}:{self.bgp_port}")
        self.start_router()
        say(f"Starting the speaker of node-a: ryu-manager ryu_kovn.app, AS {CLUSTER_AS}")
        self.start_speaker()
        wait_for("the BGP session", lambda: json.loads(self.ctl("-j", "neighbor"))[0]["state"]
                 == "established")  # fmt: skip
        show(self.ctl("neighbor"))

        initial = {"10.16.0.0/16", "10.16.0.12/32", "10.70.0.10/32", "10.96.12.7/32"}
        wait_for("the router to learn the scene", lambda: self.router_prefixes() == initial)
        self.show_router("The scene is announced")

        say("kubectl annotate pod -n shop web-1 ovn.kubernetes.io/bgp=true")
        self.api.annotate("Pod", "web-1", namespace="shop",
                          annotations={"ovn.kubernetes.io/bgp": "true"})  # fmt: skip
        wait_for("the router to learn 10.20.0.13/32",
                 lambda: "10.20.0.13/32" in self.router_prefixes())  # fmt: skip
        self.show_router("10.20.0.13/32 arrived")

        say("kubectl annotate subnet ovn-default ovn.kubernetes.io/bgp-")
        self.api.annotate("Subnet", "ovn-default", namespace=None,
                          annotations={"ovn.kubernetes.io/bgp": None})  # fmt: skip
        # The subnet's CIDR goes; pods with their own annotation stay.
        wait_for("the router to drop 10.16.0.0/16",
                 lambda: "10.16.0.0/16" not in self.router_prefixes())  # fmt: skip
        self.show_router("10.16.0.0/16 left")

        say(f"ryu-kovn-ctl neighbor {ROUTER} adj-out  (what the speaker sent)")
        show(self.ctl("neighbor", ROUTER, "adj-out"))
        say("ryu-kovn-ctl announcements  (what is wanted, and why)")
        show(self.ctl("announcements"))
        say(f"ryu-kovn-ctl neighbor {ROUTER}")
        show(self.ctl("neighbor", ROUTER))
        say(f"Done in {time.monotonic() - started:.1f} s; stopping everything.")


def main() -> int:
    if shutil.which("gobgpd") is None or shutil.which("gobgp") is None:
        print("demo: needs gobgpd and gobgp (Debian package gobgpd): apt-get install gobgpd",
              file=sys.stderr)  # fmt: skip
        return 1
    with tempfile.TemporaryDirectory(prefix="ryu-kovn-demo-") as tmp:
        demo = Demo(Path(tmp))
        try:
            demo.run()
        except BaseException:
            for log in sorted(Path(tmp).glob("*.log")):
                print(f"\n--- {log.name} (last lines)", file=sys.stderr)
                tail = log.read_text(errors="replace").splitlines()[-30:]
                print("\n".join(tail), file=sys.stderr)
            raise
        finally:
            demo.stop_all()
    return 0


if __name__ == "__main__":
    sys.exit(main())
