"""The standard lab: the speaker's namespace wired to one or two routers.

Addresses (documentation ranges only):

    spk 192.0.2.1/24      2001:db8:1::1/64   <-> r1 192.0.2.2      2001:db8:1::2
    spk 198.51.100.1/24   2001:db8:2::1/64   <-> r2 198.51.100.2   2001:db8:2::2
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kubeapi.harness import KubeAPI
from kubelink import KubeLink
from netlab import Lab, Netns
from routers import BirdRouter, GoBGPRouter, PeerSpec, Router
from speaker import SpeakerProcess

CLUSTER_AS = 4294386121  # 4-octet on purpose: every test exercises it
ROUTER_AS = 65000
ROUTER_KINDS = {"gobgp": GoBGPRouter, "bird": BirdRouter}


@dataclass
class Side:
    ns: Netns
    v4: str  # the router's own addresses
    v6: str
    speaker_v4: str  # the speaker's address on this link
    speaker_v6: str
    speaker_ifname: str = ""  # the speaker's end of this link


@dataclass
class Topology:
    lab: Lab
    workdir: Path
    kind: str
    speaker_ns: Netns
    sides: list[Side] = field(default_factory=list)
    routers: list[Router] = field(default_factory=list)
    kube: KubeAPI | None = None
    kube_link: KubeLink | None = None

    def __post_init__(self) -> None:
        # However the topology was made, its API server and relays go with the lab.
        self.lab.on_close(self.close)

    def router(self, side: Side, peers: list[PeerSpec], **kw: Any) -> Router:
        r = ROUTER_KINDS[self.kind](
            side.ns, self.workdir, ROUTER_AS, side.v4, peers, **kw
        )
        self.routers.append(r)
        return r

    def cluster(self, load: tuple[str, ...] = ()) -> KubeAPI:
        """The emulated API server the speaker watches (empty unless loaded)."""
        if self.kube is None:
            self.kube = KubeAPI(load=load, workdir=self.workdir / "kubeapi")
            self.kube.start()
            self.kube_link = KubeLink(self.speaker_ns, self.kube.port)
        return self.kube

    def close(self) -> None:
        if self.kube_link is not None:
            self.kube_link.close()
        if self.kube is not None:
            self.kube.close()

    def speaker(self, **options: Any) -> SpeakerProcess:
        env = options.pop("env", {"POD_IP": self.sides[0].speaker_v4})
        verbose = options.pop("verbose", True)
        self.cluster()
        assert self.kube_link is not None
        base = {
            "kubeconfig": str(self.kube_link.kubeconfig),
            "node_name": "node-a",
            "cluster_as": CLUSTER_AS,
            "neighbor_as": ROUTER_AS,
            "neighbor_address": [s.v4 for s in self.sides],
            "neighbor_ipv6_address": [s.v6 for s in self.sides],
        }
        base.update(options)
        base = {k: v for k, v in base.items() if v is not None}
        return SpeakerProcess(self.speaker_ns, self.workdir, base, env=env, verbose=verbose)


def build(lab: Lab, workdir: Path, kind: str, routers: int = 1) -> Topology:
    spk = lab.ns("spk")
    topo = Topology(lab, workdir, kind, spk)
    links = [
        ("192.0.2", "2001:db8:1:"),
        ("198.51.100", "2001:db8:2:"),
    ][:routers]
    for i, (v4net, v6net) in enumerate(links, start=1):
        r = lab.ns(f"r{i}")
        ifname, _ = lab.link(
            spk, r, [f"{v4net}.1/24", f"{v6net}:1/64"], [f"{v4net}.2/24", f"{v6net}:2/64"]
        )
        topo.sides.append(Side(r, f"{v4net}.2", f"{v6net}:2", f"{v4net}.1", f"{v6net}:1", ifname))
    return topo


def speaker_peers(side: Side, **kw: Any) -> list[PeerSpec]:
    """The router's view of the speaker: one IPv4 and one IPv6 session."""
    return [
        PeerSpec(side.speaker_v4, CLUSTER_AS, families=("ipv4",), **kw),
        PeerSpec(side.speaker_v6, CLUSTER_AS, families=("ipv6",), **kw),
    ]
