"""Graceful restart (RFC 4724): a restarting speaker loses no route and leaks none.

The routers act as GR helpers.  The speaker is killed (kill -9) or stopped
with SIGTERM (a rolling update) while objects change, then started again; the
router must keep every still-wanted route throughout (zero withdrawals for
them), drop the route of the object deleted meanwhile only after End-of-RIB,
and learn the route of the object created meanwhile.
"""

from __future__ import annotations

import pytest
from cluster_objects import pod, subnet
from netlab import wait_for
from topology import build, speaker_peers

SUBNET = subnet("net", "10.16.0.0/16", bgp="true")
KEPT = {"10.16.0.0/16", "10.16.0.10/32", "10.16.0.12/32"}
DELETED, ADDED = "10.16.0.11/32", "10.16.0.13/32"


def _setup(lab, workdir, kind):  # type: ignore[no-untyped-def]
    topo = build(lab, workdir, kind)
    side = topo.sides[0]
    router = topo.router(side, speaker_peers(side, graceful_restart=True)[:1])
    router.start()
    api = topo.cluster()
    pods = [pod(name, f"10.16.0.{ip}", "net") for name, ip in (("a", 10), ("b", 11), ("c", 12))]
    api.load([SUBNET, *pods])
    spk = topo.speaker(neighbor_ipv6_address=None, graceful_restart=True,
                       graceful_restart_time="60s")  # fmt: skip
    spk.start()
    router.wait_established(side.speaker_v4)
    router.wait_rib(lambda rib: set(rib) == KEPT | {DELETED}, "ipv4")
    detail = spk.neighbor(side.v4)
    assert "graceful-restart" in detail["capabilities"]["sent"]
    return side, router, api, spk


def _restart_while_changing(spk, api, how: str) -> None:  # type: ignore[no-untyped-def]
    if how == "kill":
        spk.kill()
    else:
        assert spk.stop() == 0
    api.delete("Pod", "b", "shop")
    api.create(pod("d", "10.16.0.13", "net"))
    spk.start()


@pytest.mark.parametrize("how", ["kill", "sigterm"])
def test_gobgp_keeps_wanted_routes_across_a_restart(lab, workdir, how):
    side, router, api, spk = _setup(lab, workdir, "gobgp")
    with router.monitor("ipv4") as seen:
        _restart_while_changing(spk, api, how)
        router.wait_established(side.speaker_v4, timeout=40)
        rib = router.wait_rib(lambda r: set(r) == KEPT | {ADDED}, "ipv4", timeout=40)
        assert not any(p.get("stale") for paths in rib.values() for p in paths)
    withdrawn = [e.prefix for e in seen.withdrawals()]
    assert withdrawn == [DELETED], f"router withdrew {withdrawn}; kept routes must never go"
    log = spk.log_text()
    assert "End-of-RIB queued for ipv4" in log


@pytest.mark.parametrize("how", ["kill", "sigterm"])
def test_bird_keeps_wanted_routes_across_a_restart(lab, workdir, how):
    side, router, api, spk = _setup(lab, workdir, "bird")
    missing: list[set[str]] = []

    def kept_present() -> bool:
        gone = KEPT - set(router.rib("ipv4"))
        if gone:
            missing.append(gone)
        return set(router.rib("ipv4")) == KEPT | {ADDED}

    _restart_while_changing(spk, api, how)
    wait_for(kept_present, timeout=40, interval=0.05, message="BIRD never converged")
    router.wait_established(side.speaker_v4, timeout=10)
    assert missing == [], f"BIRD lost still-wanted routes during the restart: {missing}"


def test_end_of_rib_goes_out_after_the_deferral_time_when_the_api_stays_down(lab, workdir):
    """A restart with the API server unreachable: the table never completes, so End-of-RIB
    waits for the deferral time (not for ever, nor for the router's restart timer), and
    the helper then drops the stale routes nothing re-announced."""
    side, router, api, spk = _setup(lab, workdir, "gobgp")
    assert spk.stop() == 0
    api.stop()
    spk.options["graceful_restart_deferral_time"] = "3s"
    spk.start()
    router.wait_established(side.speaker_v4, timeout=40)
    # The helper's restart timer is 60 s: only End-of-RIB empties the table sooner.
    router.wait_rib(lambda r: not r, "ipv4", timeout=20)
    log = spk.log_text()
    assert "deferral time over with the table incomplete" in log
    assert "End-of-RIB queued for ipv4" in log
