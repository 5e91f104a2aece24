"""The REST views answer with real session data, and never with the password."""

from __future__ import annotations

import json
import uuid

from netlab import wait_for
from speaker import BIN
from topology import CLUSTER_AS, ROUTER_AS, build, speaker_peers

VIEWS = [
    "/bgp/neighbors",
    "/bgp/neighbors/{v4}",
    "/bgp/neighbors/{v4}/adj-out",
    "/bgp/neighbors/{v4}/adj-in",
    "/bgp/neighbors/{v6}",
    "/bgp/neighbors/{v6}/adj-out",
    "/bgp/rib/ipv4",
    "/bgp/rib/ipv6",
    "/bgp/announcements",
    "/healthz",
    "/readyz",
]

_FETCH = """
import sys, urllib.request, urllib.error
req = urllib.request.Request(sys.argv[1], method=sys.argv[2])
try:
    with urllib.request.urlopen(req, timeout=5) as r:
        print(r.status); print(r.read().decode())
except urllib.error.HTTPError as e:
    print(e.code); print(e.read().decode())
"""


def _fetch(spk, path: str, method: str = "GET") -> tuple[int, str]:  # type: ignore[no-untyped-def]
    out = spk.ns.run([str(BIN / "python"), "-c", _FETCH, spk.url + path, method]).stdout
    status, _, body = out.partition("\n")
    return int(status), body


def test_views_show_real_sessions_and_never_the_password(lab, workdir):
    password = f"pw-{uuid.uuid4().hex}"
    topo = build(lab, workdir, "gobgp")
    side = topo.sides[0]
    r = topo.router(side, speaker_peers(side, password=password))
    r.start()
    spk = topo.speaker(auth_password=password).start()
    r.wait_established(side.speaker_v4)
    r.wait_established(side.speaker_v6)
    spk.announce(["10.16.0.12/32", "10.16.0.0/16", "fd00:10:16::c/128"])
    r.wait_rib(lambda rib: len(rib) == 2, "ipv4")
    r.announce("203.0.113.0/24", nexthop=side.v4)
    wait_for(lambda: spk.ctl("neighbor", side.v4, "adj-in"), timeout=20,
             message="adj-in stayed empty")  # fmt: skip

    answers = {}
    for view in VIEWS:
        path = view.format(v4=side.v4, v6=side.v6)
        status, body = _fetch(spk, path)
        assert status == 200, (path, body)
        answers[path] = json.loads(body)

    summary = {n["address"]: n for n in answers["/bgp/neighbors"]}
    assert set(summary) == {side.v4, side.v6}
    v4 = summary[side.v4]
    assert v4["state"] == "established" and v4["remote_as"] == ROUTER_AS
    assert v4["prefixes"] == {"sent": 2, "received": 1}
    assert v4["messages"]["sent"]["update"] >= 2
    assert v4["uptime_seconds"] > 0

    detail = answers[f"/bgp/neighbors/{side.v4}"]
    assert detail["hold_time"] == {"configured": 90, "negotiated": 90}
    assert detail["authentication"] == "tcp-md5"
    assert f"4-octet-as({CLUSTER_AS})" in detail["capabilities"]["sent"]
    assert "multiprotocol(ipv4-unicast)" in detail["capabilities"]["received"]
    assert detail["remote_router_id"] == side.v4
    assert detail["local_address"] == side.speaker_v4

    adj_out = answers[f"/bgp/neighbors/{side.v4}/adj-out"]
    assert [(a["prefix"], a["next_hop"], a["as_path"]) for a in adj_out] == [
        ("10.16.0.0/16", side.speaker_v4, [CLUSTER_AS]),
        ("10.16.0.12/32", side.speaker_v4, [CLUSTER_AS]),
    ]
    assert [a["prefix"] for a in answers[f"/bgp/neighbors/{side.v6}/adj-out"]] == [
        "fd00:10:16::c/128"
    ]
    assert [a["prefix"] for a in answers[f"/bgp/neighbors/{side.v4}/adj-in"]] == [
        "203.0.113.0/24"
    ]
    rib4 = {row["prefix"]: row["source"] for row in answers["/bgp/rib/ipv4"]}
    assert rib4 == {"10.16.0.0/16": "local", "10.16.0.12/32": "local", "203.0.113.0/24": side.v4}
    assert answers["/readyz"]["ready"] is True

    tables = [
        spk.ctl_text("neighbor"),
        spk.ctl_text("neighbor", side.v4),
        spk.ctl_text("neighbor", side.v4, "adj-out"),
        spk.ctl_text("rib", "-a", "ipv6"),
    ]
    assert side.v4 in tables[0] and "Established" in tables[0]
    assert "tcp-md5" in tables[1]
    assert "10.16.0.12/32" in tables[2] and side.speaker_v4 in tables[2]
    assert "fd00:10:16::c/128" in tables[3]

    # Unknown neighbors and families are a clear 404, writes are not routed.
    status, body = _fetch(spk, "/bgp/neighbors/192.0.2.99")
    assert status == 404 and "192.0.2.99" in body
    assert _fetch(spk, "/bgp/rib/evpn")[0] == 404
    assert _fetch(spk, "/bgp/neighbors", method="POST")[0] in (404, 405)
    assert _fetch(spk, f"/bgp/neighbors/{side.v4}", method="DELETE")[0] in (404, 405)

    # The REST API listens on the namespace's loopback only.
    listening = spk.ns.run(["ss", "-Hltn"]).stdout
    assert f"127.0.0.1:{spk.wsapi_port}" in listening
    assert f"0.0.0.0:{spk.wsapi_port}" not in listening

    status, metrics = _fetch(spk, "/metrics")
    assert status == 200 and "ryukovn_bgp_session_state" in metrics
    everything = json.dumps(answers) + "".join(tables) + metrics + spk.log_text()
    assert "API method" not in spk.log_text()  # Ryu's argument dump is silenced
    assert everything.count(password) == 0
