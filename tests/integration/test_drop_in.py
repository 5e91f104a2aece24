"""``kube-ovn-speaker`` itself, started the way kube-ovn starts its NAT-gateway sidecar.

The command runs from the venv's bin in the speaker's namespace with the
controller's argument vector (documentation addresses instead of the cluster's),
then becomes ryu-manager.  It is judged from outside: the GoBGP router's
session (MD5, negotiated hold time) and table, ``ryu-kovn-ctl`` run in the
namespace, and the process's own /proc entry, where the password kube-ovn put
on the command line must be gone once the speaker runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from netlab import Netns, ensure_never, wait_for
from routers import PeerSpec
from speaker import BIN, SpeakerProcess
from topology import ROUTER_AS, build

SAMPLES = Path(__file__).resolve().parents[3] / "shared" / "kube-ovn" / "samples.yaml"
PASSWORD = "nat-gw-md5-5e1b7a"
NAT_GW_AS = 65500
GW1_READY = {"198.51.100.10/32"}  # eip-web; eip-new is not ready, eip-other is gw2's


class DropInSpeaker(SpeakerProcess):
    """A SpeakerProcess started through the drop-in command line, not ryu-manager's.

    Everything else (healthz wait, ryu-kovn-ctl in the namespace, the log) is
    SpeakerProcess's; the options live in ``args`` only, as in a kube-ovn pod.
    """

    def __init__(self, ns: Netns, workdir: Path, args: list[str], env: dict[str, str]) -> None:
        super().__init__(ns, workdir, {}, env=env, name="drop-in")
        self.args = args

    def command(self) -> list[str]:
        return [str(BIN / "kube-ovn-speaker"), *self.args]

    def cmdline(self) -> list[str]:
        """What ps shows for the process (the same PID through every exec)."""
        assert self.proc is not None
        raw = Path(f"/proc/{self.proc.pid}/cmdline").read_bytes()
        return raw.decode(errors="replace").split("\0")[:-1]


def _samples() -> list[dict[str, Any]]:
    if not SAMPLES.exists():
        pytest.skip(f"shared samples not found at {SAMPLES}")
    return [d for d in yaml.safe_load_all(SAMPLES.read_text()) if d]


def _nat_gw_args(router_id: str, neighbor: str, kubeconfig: Path, **extra: str) -> list[str]:
    # pkg/controller/vpc_nat_gateway.go's order, then ryu-kovn's extras, then extraArgs.
    args = {
        "--nat-gw-mode": None,
        "--router-id": router_id,
        "--auth-password": PASSWORD,
        "--graceful-restart": None,
        "--holdtime": "1m0s",
        "--cluster-as": str(NAT_GW_AS),
        "--neighbor-as": str(ROUTER_AS),
        "--neighbor-address": neighbor,
        **extra,
    }
    argv = [flag if value is None else f"{flag}={value}" for flag, value in args.items()]
    return [*argv, "--kubeconfig", str(kubeconfig), "--wsapi-port", "8080", "-v5"]


def test_nat_gateway_sidecar_announces_its_ready_eips(lab, workdir):
    topo = build(lab, workdir, "gobgp")
    side = topo.sides[0]  # speaker 192.0.2.1, router 192.0.2.2
    router = topo.router(
        side, [PeerSpec(side.speaker_v4, NAT_GW_AS, families=("ipv4",), password=PASSWORD)]
    )
    router.start()
    api = topo.cluster()
    api.load(_samples())
    assert topo.kube_link is not None
    args = _nat_gw_args(side.speaker_v4, side.v4, topo.kube_link.kubeconfig)
    spk = DropInSpeaker(topo.speaker_ns, workdir, args,
                        env={"GATEWAY_NAME": "gw1", "POD_IP": side.speaker_v4}).start()  # fmt: skip

    router.wait_established(side.speaker_v4)
    router.wait_rib(lambda rib: set(rib) == GW1_READY, "ipv4")
    ensure_never(lambda: set(router.rib("ipv4")) != GW1_READY, duration=2,
                 message="the router got something other than gw1's ready EIPs")  # fmt: skip
    assert router.neighbor(side.speaker_v4)["hold_time"] == 60  # --holdtime=1m0s

    detail = spk.wait_state(side.v4, "established")
    assert detail["authentication"] == "tcp-md5"
    assert detail["remote_as"] == ROUTER_AS
    table = spk.ctl_text("neighbor").splitlines()
    row = next(line.split() for line in table if line.startswith(side.v4))
    assert row[1] == str(ROUTER_AS) and "Established" in row

    # The process became ryu-manager: kube-ovn's argv, password included, is gone.
    cmdline = spk.cmdline()
    assert cmdline[-1] == "ryu_kovn.app", cmdline
    assert cmdline[cmdline.index("--default-log-level") + 1] == "10"  # -v5
    assert not [arg for arg in cmdline if PASSWORD in arg]
    log = spk.log_text()
    assert "kube-ovn-speaker: starting" in log
    assert PASSWORD not in log

    # A gateway EIP that becomes ready is announced, as with the Go speaker.
    api.patch_status("IptablesEIP", "eip-new", namespace=None, status={"ready": True})
    router.wait_rib(lambda rib: set(rib) == GW1_READY | {"198.51.100.11/32"}, "ipv4")


def test_a_refused_value_never_opens_a_session(lab, workdir):
    topo = build(lab, workdir, "gobgp")
    side = topo.sides[0]
    router = topo.router(
        side, [PeerSpec(side.speaker_v4, NAT_GW_AS, families=("ipv4",), password=PASSWORD)]
    )
    router.start()
    topo.cluster()
    assert topo.kube_link is not None
    args = _nat_gw_args(side.speaker_v4, side.v4, topo.kube_link.kubeconfig,
                        **{"--holdtime": "2s"})  # fmt: skip
    spk = DropInSpeaker(topo.speaker_ns, workdir, args,
                        env={"GATEWAY_NAME": "gw1", "POD_IP": side.speaker_v4})  # fmt: skip
    spk.start(wait=False)
    assert spk.proc is not None
    assert spk.proc.wait(timeout=30) == 2
    log = spk.log_text()
    assert "--holdtime: invalid value for option 'holdtime': '2s'" in log
    assert PASSWORD not in log
    assert "ryu_kovn.app" not in log  # refused before ryu-manager was started
    wait_for(lambda: router.session_state(side.speaker_v4) in ("active", "idle", "connect"),
             timeout=5, message="router state")  # fmt: skip
    ensure_never(lambda: router.session_state(side.speaker_v4) == "established", duration=2)
