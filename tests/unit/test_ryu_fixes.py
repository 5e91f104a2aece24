"""Each repair of Ryu, checked on real sockets and real Ryu modules."""

from __future__ import annotations

import logging
import socket
import struct
import subprocess
import sys

import pytest

from ryu_kovn.ryu_fixes import api_log, bgp_sockets, rtconf_limits


def test_stock_ryu_md5_is_still_broken():
    # The day this fails, Ryu fixed it and bgp_sockets' MD5 part can go.
    from ryu.lib import sockaddr

    with pytest.raises(TypeError):
        sockaddr.sa_to_ss(sockaddr.sa_in4("192.0.2.1"))


@pytest.mark.parametrize(
    ("family", "address"), [(socket.AF_INET, "192.0.2.2"), (socket.AF_INET6, "2001:db8::2")]
)
def test_md5_key_is_accepted_by_the_kernel(family, address):
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        bgp_sockets.set_tcp_md5sig(sock, address, "s3cret")
        bgp_sockets.set_tcp_md5sig(sock, address, "")  # deleting the key works too


def test_md5_struct_layout():
    blob = bgp_sockets._sockaddr_storage(socket.AF_INET, "192.0.2.2")
    assert len(blob) == 128
    assert struct.unpack("=H", blob[:2])[0] == socket.AF_INET
    assert blob[4:8] == socket.inet_aton("192.0.2.2")


def test_md5_key_longer_than_the_kernel_allows_is_refused_without_quoting_it():
    with pytest.raises(ValueError) as err:
        bgp_sockets.md5_key_bytes("k" * 81)
    assert "k" * 81 not in str(err.value)
    assert "81 bytes" in str(err.value)


@pytest.mark.parametrize("ttl", [1, 2, 255])
def test_bgp_sockets_carry_the_configured_ttl(ttl):
    from ryu.services.protocols.bgp import base

    bgp_sockets.install(ttl)
    with base.socket.socket(socket.AF_INET) as s4, base.socket.socket(socket.AF_INET6) as s6:
        assert s4.getsockopt(socket.IPPROTO_IP, socket.IP_TTL) == ttl
        assert s6.getsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS) == ttl
    assert base.socket.AF_INET == socket.AF_INET  # everything else is the real module
    from ryu.lib import sockopt

    assert sockopt.set_tcp_md5sig is bgp_sockets.set_tcp_md5sig


def test_hold_time_validator_follows_rfc_4271():
    from ryu.services.protocols.bgp.base import get_validator
    from ryu.services.protocols.bgp.rtconf.base import ConfigValueError

    rtconf_limits.install()
    check = get_validator("hold_time")
    assert check(3) == 3 and check(65535) == 65535
    for bad in (2, 65536, "9", True):
        with pytest.raises(ConfigValueError):
            check(bad)
    assert get_validator("bgp_conn_retry_time")(5) == 5


def test_ryu_api_argument_dump_is_dropped(caplog):
    api_log.install()
    logger = logging.getLogger("bgpspeaker.api.base")
    with caplog.at_level(logging.INFO, logger="bgpspeaker.api.base"):
        logger.info("API method %s called with args: %s", "neighbor.create", "{'password': 'x'}")
        logger.info("something else")
    assert [r.getMessage() for r in caplog.records] == ["something else"]


def test_stock_ryu_manager_imports_thanks_to_the_startup_hook():
    # A fresh interpreter of the venv: only the installed .pth can have run.
    code = "import ryu.app.wsgi, eventlet.wsgi; print(eventlet.wsgi.ALREADY_HANDLED)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "()"


def _local_path(withdraw: bool):  # type: ignore[no-untyped-def]
    from collections import OrderedDict

    from ryu.lib.packet.bgp import (
        BGP_ATTR_TYPE_AS_PATH,
        BGP_ATTR_TYPE_ORIGIN,
        BGPPathAttributeAsPath,
        BGPPathAttributeOrigin,
        IPAddrPrefix,
    )
    from ryu.services.protocols.bgp.info_base.ipv4 import Ipv4Path

    attrs = OrderedDict([(BGP_ATTR_TYPE_ORIGIN, BGPPathAttributeOrigin(0)),
                         (BGP_ATTR_TYPE_AS_PATH, BGPPathAttributeAsPath([[]]))])  # fmt: skip
    return Ipv4Path(None, IPAddrPrefix(32, "10.16.0.9"), 1, pattrs=attrs, nexthop="0.0.0.0",
                    is_withdraw=withdraw)  # fmt: skip


def _announce_then_withdraw(add_withdraw):  # type: ignore[no-untyped-def]
    from types import SimpleNamespace

    from ryu.lib.packet.bgp import RF_IPv4_UC
    from ryu.services.protocols.bgp.info_base.ipv4 import IPv4Dest

    announce = _local_path(withdraw=False)
    table = SimpleNamespace(route_family=RF_IPv4_UC, core_service=SimpleNamespace(asn=65010))
    dest = IPv4Dest(table, announce.nlri)
    dest.add_new_path(announce)
    add_withdraw(dest, _local_path(withdraw=True))
    best, _ = dest._process_paths()
    return best


def test_stock_ryu_loses_a_withdraw_queued_right_after_its_announce():
    from ryu.services.protocols.bgp.info_base.base import Destination

    from ryu_kovn.ryu_fixes.withdraw_order import ORIGINAL

    stock = getattr(Destination, ORIGINAL, Destination.add_withdraw)
    assert _announce_then_withdraw(stock) is not None  # the leak the fix closes


def test_withdraw_right_after_announce_leaves_no_route():
    from ryu.services.protocols.bgp.info_base.base import Destination

    from ryu_kovn.ryu_fixes import withdraw_order

    withdraw_order.install()
    assert _announce_then_withdraw(Destination.add_withdraw) is None
