from __future__ import annotations

from ryu_kovn.bgp.nexthop import NextHops, kernel_source_address


class Routes:
    """A routing table the test can change: neighbor -> source address."""

    def __init__(self, table: dict[str, str | None]) -> None:
        self.table = table

    def __call__(self, neighbor: str, port: int) -> str | None:
        return self.table.get(neighbor)


def test_route_source_is_the_next_hop():
    hops = NextHops(["192.0.2.2"], pod_ips=[], node_ips=[], port=179,
                    lookup=Routes({"192.0.2.2": "192.0.2.1"}))  # fmt: skip
    assert hops.for_neighbor("192.0.2.2") == "192.0.2.1"


def test_pod_ip_is_replaced_by_the_node_ip_of_the_same_family():
    routes = Routes({"192.0.2.2": "10.16.0.5", "2001:db8::2": "fd00::5"})
    hops = NextHops(["192.0.2.2", "2001:db8::2"], pod_ips=["10.16.0.5", "fd00::5"],
                    node_ips=["2001:db8::10", "192.0.2.10"], port=179, lookup=routes)  # fmt: skip
    assert hops.for_neighbor("192.0.2.2") == "192.0.2.10"
    assert hops.for_neighbor("2001:db8::2") == "2001:db8::10"


def test_pod_ip_without_a_node_ip_of_its_family_stays():
    hops = NextHops(["2001:db8::2"], pod_ips=["fd00::5"], node_ips=["192.0.2.10"], port=179,
                    lookup=Routes({"2001:db8::2": "fd00::5"}))  # fmt: skip
    assert hops.for_neighbor("2001:db8::2") == "fd00::5"


def test_a_host_address_that_is_not_the_pod_ip_is_kept():
    hops = NextHops(["192.0.2.2"], pod_ips=["10.16.0.5"], node_ips=["192.0.2.10"], port=179,
                    lookup=Routes({"192.0.2.2": "192.0.2.1"}))  # fmt: skip
    assert hops.for_neighbor("192.0.2.2") == "192.0.2.1"


def test_refresh_reports_drift_only_for_the_neighbor_that_moved():
    routes = Routes({"192.0.2.2": "192.0.2.1", "198.51.100.2": "198.51.100.1"})
    hops = NextHops(["192.0.2.2", "198.51.100.2"], [], [], 179, lookup=routes)
    assert hops.refresh() == []
    routes.table["192.0.2.2"] = "203.0.113.1"
    assert hops.refresh() == ["192.0.2.2"]
    assert hops.for_neighbor("192.0.2.2") == "203.0.113.1"
    assert hops.refresh() == []


def test_no_route_falls_back_to_the_session_address():
    hops = NextHops(["192.0.2.2"], [], [], 179, lookup=Routes({}))
    assert hops.for_neighbor("192.0.2.2") is None
    assert hops.for_neighbor("192.0.2.2", session_local="192.0.2.1") == "192.0.2.1"


def test_kernel_lookup_on_loopback_sends_nothing_and_answers():
    assert kernel_source_address("127.0.0.1", 179) == "127.0.0.1"
    assert kernel_source_address("::1", 179) == "::1"
