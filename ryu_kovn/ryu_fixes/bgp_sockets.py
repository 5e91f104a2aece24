"""Socket options Ryu's BGP core gets wrong or never sets.

TCP MD5 (RFC 2385)
    ``ryu.lib.sockopt.set_tcp_md5sig`` builds ``struct tcp_md5sig`` through
    ``ryu.lib.sockaddr``, which pads a bytes object with the str ``'\\0'``: on
    Python 3 every password raises ``TypeError: can't concat str to bytes``, so
    neither the active connect nor the listener ever sets a key.  Ryu calls the
    function through the module attribute at call time, so replacing that
    attribute repairs both paths.

IP TTL (eBGP multihop)
    Ryu never sets ``IP_TTL``/``IPV6_UNICAST_HOPS``: sessions leave with the
    kernel default (64).  An eBGP speaker must send with TTL 1 unless multihop
    is configured (RFC 4271 practice; GoBGP and the Go kube-ovn speaker do), or a
    peer that is not adjacent may bring a session up by accident.  Every socket
    Ryu's BGP activities create comes from ``socket.socket`` looked up in
    ``ryu.services.protocols.bgp.base``; that name is pointed at a factory that
    sets the TTL before the socket is used.  Accepted sockets inherit the
    listener's TTL in Linux, so the passive side is covered too.
"""

from __future__ import annotations

import socket as _stdlib_socket
import struct
from types import ModuleType
from typing import Any

# linux/tcp.h
TCP_MD5SIG = 14
TCP_MD5SIG_MAXKEYLEN = 80
_SOCKADDR_STORAGE_LEN = 128


def _sockaddr_storage(family: int, address: str) -> bytes:
    """Linux ``struct sockaddr_storage`` for *address*, port 0."""
    if family == _stdlib_socket.AF_INET:
        body = struct.pack("=H", family) + struct.pack("!H", 0)
        body += _stdlib_socket.inet_pton(family, address)
    elif family == _stdlib_socket.AF_INET6:
        body = struct.pack("=H", family) + struct.pack("!HI", 0, 0)
        body += _stdlib_socket.inet_pton(family, address) + struct.pack("=I", 0)
    else:
        raise ValueError(f"TCP MD5 needs an IPv4 or IPv6 socket, not family {family}")
    return body.ljust(_SOCKADDR_STORAGE_LEN, b"\0")


def md5_key_bytes(password: str) -> bytes:
    key = password.encode("utf-8")
    if len(key) > TCP_MD5SIG_MAXKEYLEN:
        # The message must not quote the key: it ends up in logs.
        raise ValueError(
            f"TCP MD5 key is {len(key)} bytes; the kernel accepts at most {TCP_MD5SIG_MAXKEYLEN}"
        )
    return key


def set_tcp_md5sig(sock: Any, address: str, password: str | bytes) -> None:
    """Set (or with an empty password, delete) the MD5 key for *address* on *sock*.

    Same signature as ``ryu.lib.sockopt.set_tcp_md5sig`` so it can stand in for it.
    """
    key = password if isinstance(password, bytes) else md5_key_bytes(password)
    # struct tcp_md5sig { sockaddr_storage addr; u8 flags; u8 prefixlen;
    #                     u16 keylen; u32 ifindex; u8 key[80]; }
    blob = _sockaddr_storage(sock.family, address)
    blob += struct.pack("=BBHI", 0, 0, len(key), 0)
    blob += key.ljust(TCP_MD5SIG_MAXKEYLEN, b"\0")
    sock.setsockopt(_stdlib_socket.IPPROTO_TCP, TCP_MD5SIG, blob)


def set_ttl(sock: Any, ttl: int) -> None:
    if sock.family == _stdlib_socket.AF_INET:
        sock.setsockopt(_stdlib_socket.IPPROTO_IP, _stdlib_socket.IP_TTL, ttl)
    elif sock.family == _stdlib_socket.AF_INET6:
        sock.setsockopt(_stdlib_socket.IPPROTO_IPV6, _stdlib_socket.IPV6_UNICAST_HOPS, ttl)


class _SocketModuleWithTTL:
    """Stands in for the ``socket`` module inside Ryu's BGP base module.

    Everything is the real (possibly eventlet-green) module except ``socket()``,
    which returns sockets that already carry the session TTL.
    """

    def __init__(self, real: ModuleType, ttl: int) -> None:
        self._real = real
        self._ttl = ttl

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    def socket(self, *args: Any, **kwargs: Any) -> Any:
        sock = self._real.socket(*args, **kwargs)
        if sock.family in (_stdlib_socket.AF_INET, _stdlib_socket.AF_INET6):
            set_ttl(sock, self._ttl)
        return sock


def install(ttl: int) -> None:
    """Apply both repairs to Ryu's BGP modules (idempotent; the last TTL wins)."""
    from ryu.lib import sockopt
    from ryu.services.protocols.bgp import base

    sockopt.set_tcp_md5sig = set_tcp_md5sig
    real = base.socket._real if isinstance(base.socket, _SocketModuleWithTTL) else base.socket
    base.socket = _SocketModuleWithTTL(real, ttl)
