from __future__ import annotations

import pytest

from ryu_kovn.cli import ctl

NEIGHBOR = {
    "address": "192.0.2.2", "family": "ipv4", "remote_as": 65000, "local_as": 4294386121,
    "state": "established", "uptime_seconds": 3725.2,
    "messages": {"sent": {"update": 7, "notification": 0, "route_refresh": 0},
                 "received": {"update": 1, "notification": 0, "route_refresh": 0}},
    "prefixes": {"sent": 5, "received": 1},
}  # fmt: skip


def test_neighbor_table_reads_like_gobgp():
    text = ctl.show_neighbors([NEIGHBOR])
    header, row = text.splitlines()
    assert header.split() == ["Peer", "AS", "Up/Down", "State", "#Sent", "#Received",
                              "Updates", "out/in"]  # fmt: skip
    assert row.split() == ["192.0.2.2", "65000", "01:02:05", "Established", "5", "1", "7/1"]


def test_uptime_over_a_day():
    assert ctl._uptime(90061) == "1d 01:01:01"
    assert ctl._uptime(None) == "never"


def test_routes_table():
    rows = [{"prefix": "10.16.0.12/32", "next_hop": "192.0.2.1", "as_path": [4294386121],
             "sent_at": "2026-11-27T14:00:00Z"}]  # fmt: skip
    lines = ctl.show_routes(rows, "sent_at").splitlines()
    assert lines[1].split() == ["10.16.0.12/32", "192.0.2.1", "4294386121", "2026-11-27T14:00:00Z"]


def test_announcements_table_lists_every_reason():
    rows = [{"prefix": "10.16.0.12/32", "reasons": [
        {"source": "Pod/shop/web-0", "policy": "cluster"},
        {"source": "Subnet/ovn-default", "policy": "cluster"}]}]  # fmt: skip
    lines = ctl.show_announcements(rows).splitlines()
    assert lines[1].split() == ["10.16.0.12/32", "Pod/shop/web-0", "cluster"]
    assert lines[2].split() == ["Subnet/ovn-default", "cluster"]


def test_unreachable_speaker_is_a_clear_error():
    with pytest.raises(SystemExit) as err:
        ctl.run(["--url", "http://127.0.0.1:9", "neighbor"])
    assert "cannot reach the speaker at http://127.0.0.1:9" in str(err.value)


@pytest.mark.parametrize(
    ("argv", "path"),
    [
        (["neighbor"], "/bgp/neighbors"),
        (["neighbor", "2001:db8::2"], "/bgp/neighbors/2001%3Adb8%3A%3A2"),
        (["neighbor", "192.0.2.2", "adj-out"], "/bgp/neighbors/192.0.2.2/adj-out"),
        (["neighbor", "192.0.2.2", "adj-in"], "/bgp/neighbors/192.0.2.2/adj-in"),
        (["rib"], "/bgp/rib/ipv4"),
        (["rib", "-a", "ipv6"], "/bgp/rib/ipv6"),
        (["announcements"], "/bgp/announcements"),
    ],
)
def test_every_command_reads_its_view(monkeypatch, argv, path):
    asked = []
    monkeypatch.setattr(ctl, "_get", lambda base, p: asked.append(p) or [])
    ctl.run(["-j", *argv])
    assert asked == [path]
