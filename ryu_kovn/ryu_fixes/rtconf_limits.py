"""Ryu's configuration validators refuse values BGP and kube-ovn allow.

- ``hold_time``: Ryu requires >= 10 s; RFC 4271 allows 0 or 3..65535 s and the
  kube-ovn speaker's ``--holdtime`` accepts 3 s and up.
- ``bgp_conn_retry_time`` / ``tcp_conn_timeout``: Ryu requires >= 10 s, so a
  restarted router waits up to half a minute for the speaker to reconnect.

Ryu looks validators up by name in ``ryu.services.protocols.bgp.base`` at the
moment a setting is applied, so registering a corrected one under the same
name replaces it for every later neighbor and core start.
"""

from __future__ import annotations

import numbers

HOLD_TIME_MIN = 3
HOLD_TIME_MAX = 65535
RETRY_MIN = 1


def _int_in_range(name: str, value: object, low: int, high: int | None = None) -> int:
    from ryu.services.protocols.bgp.rtconf.base import ConfigValueError

    ok = isinstance(value, numbers.Integral) and not isinstance(value, bool)
    if ok and value >= low and (high is None or value <= high):
        return int(value)  # type: ignore[arg-type]
    bound = f"{low}..{high}" if high is not None else f">= {low}"
    raise ConfigValueError(desc=f"invalid {name} {value!r}: must be an integer {bound}")


def validate_hold_time(value: object) -> int:
    return _int_in_range("hold_time", value, HOLD_TIME_MIN, HOLD_TIME_MAX)


def validate_retry_time(value: object) -> int:
    return _int_in_range("bgp_conn_retry_time", value, RETRY_MIN)


def validate_tcp_conn_timeout(value: object) -> int:
    return _int_in_range("tcp_conn_timeout", value, RETRY_MIN)


def install() -> None:
    # rtconf modules register Ryu's own validators at import: import them first
    # so that ours are the ones left in the registry.
    from ryu.services.protocols.bgp import base
    from ryu.services.protocols.bgp.rtconf import base as rtconf_base
    from ryu.services.protocols.bgp.rtconf import common

    base.validate(name=rtconf_base.HOLD_TIME)(validate_hold_time)
    base.validate(name=common.BGP_CONN_RETRY_TIME)(validate_retry_time)
    base.validate(name=common.TCP_CONN_TIMEOUT)(validate_tcp_conn_timeout)
