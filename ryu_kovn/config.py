"""Every ryu-kovn option, its default, its rule, and the one validator.

How the config gets to us: ``ryu-manager`` parses ``--config-file`` into
``ryu.cfg.CONF`` *before* it imports ``ryu_kovn.app``.  That is Ryu's own
``ConfigOpts`` instance, not ``oslo_config.cfg.CONF``: options registered on
the latter would never see the file.  oslo.config reads ``[DEFAULT]`` values
lazily from the parsed files, so registering our (non-CLI) options after the
parse works; tests/unit/test_config.py proves it.

Why the option types are what they are: oslo.config can check a bool or an
integer range, but its errors do not say which value was wrong, and it cannot
express a Go duration or "IPv4 only".  So oslo types do the lexical work where
they fit (bools, integers, lists), every value is then checked here against one
rule string per option, and oslo's own conversion errors are turned into the
same :class:`ConfigError` wording, value included.  The rule strings appear in
the help text too, so the sample file and the error messages cannot disagree.

:func:`validate` reports every problem at once, one per line, so that an
operator fixes a node's file in one go instead of one restart per mistake.
"""

from __future__ import annotations

import hmac
import ipaddress
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, NoReturn

from oslo_config import cfg

from ryu_kovn.durations import format_duration, parse_duration_ns

__all__ = [
    "OPTS",
    "ConfigError",
    "ConfigErrors",
    "Secret",
    "Settings",
    "apply_ryu_defaults",
    "describe",
    "list_opts",
    "register_opts",
    "validate",
]

AS_MAX = 4294967295
DEFAULT_HOLDTIME = 90
DEFAULT_GRACEFUL_RESTART_TIME = 90
DEFAULT_GRACEFUL_RESTART_DEFERRAL_TIME = 360
DEFAULT_EBGP_MULTIHOP = 1
DEFAULT_BGP_PORT = 179
# Linux refuses longer TCP MD5 keys (TCP_MD5SIG_MAXKEYLEN); refusing here turns
# an obscure setsockopt failure at session time into a start-up error.
MD5_KEY_MAX_BYTES = 80
# Where Ryu's REST API listens unless the config says otherwise: the views
# are unauthenticated, so not every interface (Ryu's own default).
REST_HOST = "127.0.0.1"

_SECRET_OPTIONS = frozenset({"auth_password"})

# What a valid value is, after "must be".  Used in errors and in help texts.
_AS_RULE = f"an integer from 1 to {AS_MAX}"
_V4_LIST_RULE = (
    "comma separated IPv4 unicast addresses, e.g. 192.0.2.1,192.0.2.2; "
    "IPv6 peers go in neighbor_ipv6_address"
)
_V6_LIST_RULE = (
    "comma separated IPv6 unicast addresses without a zone, e.g. 2001:db8::1,2001:db8::2; "
    "IPv4 peers go in neighbor_address"
)
_ROUTER_ID_RULE = "a non-zero IPv4 address, e.g. 192.0.2.1; 0.0.0.0 is not a valid BGP identifier"
_NODE_IPS_RULE = (
    "comma separated IP addresses, at most one IPv4 and one IPv6, e.g. 192.0.2.10,2001:db8::10"
)
_PASSWORD_RULE = f"at most {MD5_KEY_MAX_BYTES} bytes, the Linux TCP MD5 key limit"
_HOLDTIME_RULE = "a duration from 3s to 65535s, e.g. 90s or 1m30s"
_GR_TIME_RULE = "a duration from 1s to 4095s, e.g. 90s or 2m0s"
_GR_DEFERRAL_RULE = "a duration from 1s to 18h, e.g. 360s or 6m0s"
_BOOL_RULE = "true or false; yes/no, on/off and 1/0 work too"
_TTL_RULE = "an integer from 1 to 255"
_MIN_V4_RULE = "an integer from 0 to 32"
_MIN_V6_RULE = "an integer from 0 to 128"
DEFAULT_MIN_PREFIX_LENGTH_V4 = 8
DEFAULT_MIN_PREFIX_LENGTH_V6 = 16
_PORT_RULE = "an integer from 1 to 65535"
_NODE_NAME_RULE = "a Kubernetes node name"
_KUBECONFIG_RULE = "the path of an existing kubeconfig file"
_POD_IPS_RULE = "comma separated IP addresses, as Kubernetes sets from status.podIPs"
_GATEWAY_NAME_RULE = "the VpcNatGateway name, which kube-ovn sets in NAT-gateway pods"

_DURATION_HELP = (
    " Durations use Go's syntax (90s, 1m, 1m30s, 1h0m0s) or plain seconds (90);"
    " fractions of a second are dropped."
)


def _help(what: str, rule: str, default: str) -> str:
    return f"{what} Must be {rule}. Default: {default}."


class _KeepRawValue:
    """Wraps an oslo type so that a conversion error carries the raw text.

    oslo.config's ConfigFileValueError says "Should be less than or equal to
    255" without the value; it raises it while handling the type's ValueError,
    so that error (this one) is its ``__context__``.
    """

    def __init__(self, inner: Callable[[Any], Any]) -> None:
        self._inner = inner

    def __call__(self, value: Any) -> Any:
        try:
            return self._inner(value)
        except ValueError as exc:
            raise _RawValueError(value, str(exc)) from exc

    def __getattr__(self, name: str) -> Any:
        # type_name, min, max, format_defaults...: what the sample generator
        # and oslo's CLI machinery read from a type.  The guard keeps copy and
        # pickle, which probe before __init__ ran, out of endless recursion.
        if name == "_inner":
            raise AttributeError(name)
        return getattr(self._inner, name)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, _KeepRawValue):
            return self._inner == other._inner
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._inner)

    def __repr__(self) -> str:
        return repr(self._inner)


class _RawValueError(ValueError):
    def __init__(self, raw: Any, reason: str) -> None:
        super().__init__(reason)
        self.raw = raw


def _keep_raw(opt: cfg.Opt) -> cfg.Opt:
    opt.type = _KeepRawValue(opt.type)
    return opt


OPTS: list[cfg.Opt] = [
    _keep_raw(opt)
    for opt in (
        cfg.IntOpt(
            "cluster_as",
            min=1,
            max=AS_MAX,
            help=_help("The local AS (4-octet AS numbers allowed).", _AS_RULE, "none, required"),
        ),
        cfg.IntOpt(
            "neighbor_as",
            min=1,
            max=AS_MAX,
            help=_help("The AS of the peers.", _AS_RULE, "none, required"),
        ),
        cfg.ListOpt(
            "neighbor_address",
            default=[],
            help=_help(
                "IPv4 BGP peers. At least one peer, IPv4 or IPv6, is required.",
                _V4_LIST_RULE,
                "none",
            ),
        ),
        cfg.ListOpt(
            "neighbor_ipv6_address",
            default=[],
            help=_help(
                "IPv6 BGP peers. At least one peer, IPv4 or IPv6, is required.",
                _V6_LIST_RULE,
                "none",
            ),
        ),
        cfg.StrOpt(
            "router_id",
            help=_help(
                "BGP identifier of this speaker.",
                _ROUTER_ID_RULE,
                "the IPv4 address in env POD_IPS, else env POD_IP; start-up fails without one",
            ),
        ),
        cfg.ListOpt(
            "node_ips",
            default=[],
            help=_help(
                "Node addresses to send as next hop, of the same family, when the next hop "
                "would otherwise be the pod's own IP (speaker not on the host network).",
                _NODE_IPS_RULE,
                "none",
            ),
        ),
        cfg.StrOpt(
            "auth_password",
            secret=True,
            help=_help(
                "TCP MD5 signature password (RFC 2385) for every session. Never printed, "
                "logged or served. oslo.config substitutes $name in values: write a "
                "literal $ as $$.",
                _PASSWORD_RULE,
                "none, no signature",
            ),
        ),
        cfg.StrOpt(
            "holdtime",
            default="90s",
            help=_help(
                "Hold time offered to peers; a peer silent this long is declared down, and "
                "peers drop this speaker's routes this long after it stops." + _DURATION_HELP,
                _HOLDTIME_RULE,
                "90s",
            ),
        ),
        cfg.BoolOpt(
            "graceful_restart",
            default=False,
            help=_help("Offer graceful restart (RFC 4724).", _BOOL_RULE, "false"),
        ),
        cfg.StrOpt(
            "graceful_restart_time",
            default="90s",
            help=_help(
                "Graceful restart time (RFC 4724 section 3): how long peers keep routes "
                "while this speaker restarts." + _DURATION_HELP,
                _GR_TIME_RULE,
                "90s",
            ),
        ),
        cfg.StrOpt(
            "graceful_restart_deferral_time",
            default="360s",
            help=_help(
                "Graceful restart deferral time (RFC 4724 section 4.1): the longest wait "
                "for End-of-RIB from peers after a restart." + _DURATION_HELP,
                _GR_DEFERRAL_RULE,
                "360s",
            ),
        ),
        cfg.BoolOpt(
            "passivemode",
            default=False,
            help=_help(
                "Never open a connection; wait for the peers to connect.", _BOOL_RULE, "false"
            ),
        ),
        cfg.IntOpt(
            "ebgp_multihop",
            default=DEFAULT_EBGP_MULTIHOP,
            min=1,
            max=255,
            help=_help(
                "IP TTL of the BGP session's packets; raise it for peers more than one hop away.",
                _TTL_RULE,
                str(DEFAULT_EBGP_MULTIHOP),
            ),
        ),
        cfg.BoolOpt(
            "announce_cluster_ip",
            default=False,
            help=_help(
                "Announce the ClusterIPs of Services annotated ovn.kubernetes.io/bgp.",
                _BOOL_RULE,
                "false",
            ),
        ),
        cfg.IntOpt(
            "min_prefix_length_v4",
            default=DEFAULT_MIN_PREFIX_LENGTH_V4,
            min=0,
            max=32,
            help=_help(
                "Never announce an IPv4 prefix shorter than this, whatever a Subnet says "
                "(a /1 from a typo would pull half the Internet's traffic into the cluster).",
                _MIN_V4_RULE,
                str(DEFAULT_MIN_PREFIX_LENGTH_V4),
            ),
        ),
        cfg.IntOpt(
            "min_prefix_length_v6",
            default=DEFAULT_MIN_PREFIX_LENGTH_V6,
            min=0,
            max=128,
            help=_help(
                "Never announce an IPv6 prefix shorter than this.",
                _MIN_V6_RULE,
                str(DEFAULT_MIN_PREFIX_LENGTH_V6),
            ),
        ),
        cfg.BoolOpt(
            "allow_special_prefixes",
            default=False,
            help=_help(
                "Allow announcing special ranges: default routes, loopback, link-local, "
                "multicast, unspecified and broadcast addresses (refused unless this is on). "
                "IPv4-mapped IPv6 addresses are refused even then.",
                _BOOL_RULE,
                "false",
            ),
        ),
        cfg.BoolOpt(
            "nat_gw_mode",
            default=False,
            help=_help(
                "EIP-only mode inside a VpcNatGateway pod: announce the IptablesEIPs of the "
                "gateway named by env GATEWAY_NAME (required then), and watch nothing else.",
                _BOOL_RULE,
                "false",
            ),
        ),
        cfg.StrOpt(
            "node_name",
            help=_help(
                "This node's Kubernetes name, lower-cased; without it pods with the local "
                "policy are never announced.",
                _NODE_NAME_RULE,
                "env NODE_NAME",
            ),
        ),
        cfg.StrOpt(
            "kubeconfig",
            help=_help(
                "Kubeconfig file to reach the API server.",
                _KUBECONFIG_RULE,
                "none, in-cluster credentials",
            ),
        ),
        cfg.PortOpt(
            "bgp_listen_port",
            default=DEFAULT_BGP_PORT,
            min=1,
            help=_help(
                "TCP port where the speaker accepts BGP sessions. As with kube-ovn's "
                "speaker, it listens only with passivemode on, so that a node running "
                "another BGP daemon is not disturbed (a high port lets tests run "
                "without root).",
                _PORT_RULE,
                str(DEFAULT_BGP_PORT),
            ),
        ),
        cfg.PortOpt(
            "neighbor_port",
            default=DEFAULT_BGP_PORT,
            min=1,
            help=_help("TCP port of the peers.", _PORT_RULE, str(DEFAULT_BGP_PORT)),
        ),
    )
]

# The WSGI options as Ryu defines them in ryu/app/wsgi.py (every interface),
# for a ConfigOpts that Ryu never touched (tests, tools); apply_ryu_defaults
# then changes the default exactly as it does on Ryu's own.
_WSAPI_OPTS = [
    cfg.StrOpt("wsapi_host", default="0.0.0.0", help="webapp listen host"),
    cfg.IntOpt("wsapi_port", default=8080, help="webapp listen port"),
]


def list_opts() -> list[tuple[str | None, list[cfg.Opt]]]:
    """The ``oslo.config.opts`` entry point used by oslo-config-generator."""
    return [(None, list(OPTS))]


def _ryu_conf() -> cfg.ConfigOpts:
    # Imported late so that the sample generator does not need Ryu; ryu.cfg
    # itself imports nothing but oslo.config.
    from ryu import cfg as ryu_cfg

    return ryu_cfg.CONF


def register_opts(conf: cfg.ConfigOpts | None = None) -> cfg.ConfigOpts:
    """Register OPTS on ``conf`` (default: Ryu's CONF); safe to call again."""
    conf = _ryu_conf() if conf is None else conf
    conf.register_opts(OPTS)
    return conf


def apply_ryu_defaults(conf: cfg.ConfigOpts | None = None) -> None:
    """Make Ryu's REST API listen on 127.0.0.1 unless the config says otherwise.

    Must run before ryu-manager starts its WSGI server, i.e. while apps load.
    A value from the config file or the command line still wins: set_default
    only changes what an unset option reads as.
    """
    conf = _ryu_conf() if conf is None else conf
    if conf is _ryu_conf() and "wsapi_host" not in conf:
        # Let Ryu register its own definitions, or a later import of its wsgi
        # module would clash with ours.  Ryu registers them as CLI options,
        # which oslo refuses once the command line is parsed; ours then.
        try:
            import ryu.app.wsgi  # noqa: F401
        except cfg.ArgsAlreadyParsedError:
            pass
    if "wsapi_host" not in conf:
        conf.register_opts(_WSAPI_OPTS)
    conf.set_default("wsapi_host", REST_HOST)


class Secret:
    """A password that does not show up where values usually show up.

    repr/str/format, dataclass reprs, pickles and deep copies never contain
    it; json.dumps refuses it.  Only :meth:`reveal` returns it, so every
    place that needs the clear text is greppable.
    """

    __slots__ = ("__value",)

    def __init__(self, value: str) -> None:
        self.__value = value

    def reveal(self) -> str:
        return self.__value

    def __repr__(self) -> str:
        return "***"

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return "***"

    def __eq__(self, other: object) -> bool:
        # Constant time, so that comparing Settings cannot become an oracle.
        if not isinstance(other, Secret):
            return NotImplemented
        return hmac.compare_digest(self.__value.encode(), other.__value.encode())

    def __hash__(self) -> int:
        return hash((Secret, self.__value))

    def __reduce__(self) -> NoReturn:
        raise TypeError("a Secret cannot be pickled: that would write the password out")

    def __copy__(self) -> Secret:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> Secret:
        return self


@dataclass(frozen=True, kw_only=True)
class Settings:
    """The validated configuration; build it with :func:`validate`.

    Durations are whole seconds.  Addresses are in canonical form, without
    duplicates, in the order given.  Defaults mirror the options' defaults so
    that tests can build one with only what they care about.
    """

    cluster_as: int
    neighbor_as: int
    router_id: str
    neighbors_v4: tuple[str, ...] = ()
    neighbors_v6: tuple[str, ...] = ()
    node_ips: tuple[str, ...] = ()
    auth_password: Secret | None = None
    holdtime: int = DEFAULT_HOLDTIME
    graceful_restart: bool = False
    graceful_restart_time: int = DEFAULT_GRACEFUL_RESTART_TIME
    graceful_restart_deferral_time: int = DEFAULT_GRACEFUL_RESTART_DEFERRAL_TIME
    passive: bool = False
    ebgp_multihop: int = DEFAULT_EBGP_MULTIHOP
    announce_cluster_ip: bool = False
    min_prefix_length_v4: int = DEFAULT_MIN_PREFIX_LENGTH_V4
    min_prefix_length_v6: int = DEFAULT_MIN_PREFIX_LENGTH_V6
    allow_special_prefixes: bool = False
    nat_gw_mode: bool = False
    node_name: str = ""  # "" when neither node_name nor env NODE_NAME is set
    kubeconfig: str | None = None
    gateway_name: str | None = None
    pod_ips: tuple[str, ...] = ()
    bgp_listen_port: int = DEFAULT_BGP_PORT
    neighbor_port: int = DEFAULT_BGP_PORT

    @property
    def neighbors(self) -> tuple[str, ...]:
        """Every peer, IPv4 first."""
        return self.neighbors_v4 + self.neighbors_v6


class ConfigError(ValueError):
    """One bad or missing setting.

    ``option`` is the option (or environment variable) name, ``value`` the
    text that was refused (None when missing, and always None for a secret),
    ``rule`` what a valid value is.  ``errors`` lists the problems, so callers
    can treat one error and :class:`ConfigErrors` alike.
    """

    def __init__(
        self,
        option: str,
        value: Any,
        rule: str,
        *,
        kind: str = "option",
        message: str | None = None,
    ) -> None:
        secret = option in _SECRET_OPTIONS
        self.option = option
        self.value = None if secret else value
        self.rule = rule
        if message is None:
            shown = "<hidden>" if secret else repr(value)
            message = f"invalid value for {kind} {option!r}: {shown} (must be {rule})"
        super().__init__(message)

    @classmethod
    def missing(cls, option: str, what: str, rule: str) -> ConfigError:
        return cls(option, None, rule, message=f"option {option!r} is required ({what}, {rule})")

    @property
    def errors(self) -> tuple[ConfigError, ...]:
        return (self,)


class ConfigErrors(ConfigError):
    """Several problems, one per line of the message."""

    def __init__(self, errors: Iterable[ConfigError]) -> None:
        self._errors = tuple(errors)
        lines = "\n".join(f"  {error}" for error in self._errors)
        super().__init__(
            ", ".join(error.option for error in self._errors),
            None,
            "; ".join(error.rule for error in self._errors),
            message=f"{len(self._errors)} configuration errors:\n{lines}",
        )

    @property
    def errors(self) -> tuple[ConfigError, ...]:
        return self._errors


class _Invalid:
    """Marks a value already reported, so later checks skip it quietly."""


_INVALID: Any = _Invalid()


class _Checker:
    """Reads options and collects every problem instead of stopping at one."""

    def __init__(self, conf: cfg.ConfigOpts, env: Mapping[str, str]) -> None:
        self.conf = conf
        self.env = env
        self.errors: list[ConfigError] = []

    def fail(self, option: str, value: Any, rule: str, *, kind: str = "option") -> Any:
        self.errors.append(ConfigError(option, value, rule, kind=kind))
        return _INVALID

    def read(self, name: str, rule: str) -> Any:
        """The option's value as oslo typed it, or _INVALID once reported."""
        try:
            return self.conf[name]
        except cfg.ConfigSourceValueError as exc:
            raw = exc.__context__.raw if isinstance(exc.__context__, _RawValueError) else None
            return self.fail(name, raw, rule)
        except cfg.Error as exc:
            # $name substitution went wrong (NoSuchOptError for an unknown
            # name).  The text is not at hand; oslo's reason names the bad
            # $name, which for a password is part of the secret.
            reason = "<hidden>" if name in _SECRET_OPTIONS else f"<unreadable: {exc}>"
            message = (
                f"invalid value for option {name!r}: {reason} "
                f"(must be {rule}; write a literal $ as $$)"
            )
            self.errors.append(ConfigError(name, None, rule, message=message))
            return _INVALID

    def text(self, name: str, rule: str) -> Any:
        """A string option, None when unset or blank."""
        value = self.read(name, rule)
        if value is _INVALID or value is None:
            return value
        value = value.strip()
        return value or None

    def value(self, name: str, rule: str, default: Any) -> Any:
        """A typed option; an emptied one (``ebgp_multihop =``) means its default."""
        value = self.read(name, rule)
        return default if value is None else value

    def required_int(self, name: str, what: str, rule: str) -> Any:
        value = self.read(name, rule)
        if value is None:
            self.errors.append(ConfigError.missing(name, what, rule))
            return _INVALID
        return value

    def duration(self, name: str, rule: str, low: int, high: int, default: int) -> Any:
        """Whole seconds; the range is checked on the exact value, then truncated as Go does."""
        text = self.text(name, rule)
        if text is _INVALID:
            return _INVALID
        if text is None:
            return default
        try:
            ns = parse_duration_ns(text)
        except ValueError:
            return self.fail(name, text, rule)
        if not low * 10**9 <= ns <= high * 10**9:
            return self.fail(name, text, rule)
        return ns // 10**9

    def addresses(self, name: str, rule: str, accept: Callable[[_IP], bool]) -> Any:
        items = self.read(name, rule)
        if items is _INVALID:
            return _INVALID
        return self.address_items(name, items or (), rule, accept)

    def address_items(
        self,
        name: str,
        items: Iterable[str],
        rule: str,
        accept: Callable[[_IP], bool],
        *,
        kind: str = "option",
    ) -> Any:
        found: list[str] = []
        bad = False
        for item in items:
            item = item.strip()
            if not item:
                continue  # a trailing comma is a typo, not a peer
            address = _parse_ip(item)
            if address is None or not accept(address):
                self.fail(name, item, rule, kind=kind)
                bad = True
            elif str(address) not in found:
                found.append(str(address))
        return _INVALID if bad else tuple(found)


_IP = ipaddress.IPv4Address | ipaddress.IPv6Address


def _parse_ip(text: str) -> _IP | None:
    # ipaddress rather than netaddr: it refuses inet_aton shorthands such as
    # "10.1" and leading zeros, as Go's net.ParseIP does.
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _is_unicast(address: _IP) -> bool:
    return not (address.is_unspecified or address.is_multicast) and str(address) != (
        "255.255.255.255"
    )


def _v4_peer(address: _IP) -> bool:
    return address.version == 4 and _is_unicast(address)


def _v6_peer(address: _IP) -> bool:
    return (
        isinstance(address, ipaddress.IPv6Address)
        and address.scope_id is None
        and _is_unicast(address)
    )


def _any_ip(address: _IP) -> bool:
    return address.scope_id is None if isinstance(address, ipaddress.IPv6Address) else True


def _check_node_ips(check: _Checker) -> Any:
    node_ips = check.addresses("node_ips", _NODE_IPS_RULE, _any_ip)
    if node_ips is _INVALID:
        return _INVALID
    # One per family: the next hop is "the node IP of the same family", and
    # with two of them which one wins would be an accident of ordering.
    for version in (4, 6):
        same = [ip for ip in node_ips if ipaddress.ip_address(ip).version == version]
        if len(same) > 1:
            return check.fail("node_ips", ",".join(same), _NODE_IPS_RULE)
    return node_ips


def _check_neighbors(check: _Checker) -> tuple[Any, Any]:
    v4 = check.addresses("neighbor_address", _V4_LIST_RULE, _v4_peer)
    v6 = check.addresses("neighbor_ipv6_address", _V6_LIST_RULE, _v6_peer)
    if v4 == () and v6 == ():
        check.errors.append(
            ConfigError(
                "neighbor_address",
                None,
                f"{_V4_LIST_RULE}; or {_V6_LIST_RULE}",
                message=(
                    "option 'neighbor_address' or 'neighbor_ipv6_address' is required "
                    "(at least one BGP peer: comma separated IPv4 addresses in "
                    "neighbor_address, IPv6 addresses in neighbor_ipv6_address)"
                ),
            )
        )
    return v4, v6


def _check_pod_ips(check: _Checker) -> Any:
    """Env POD_IPS (every IP, dual stack), else POD_IP."""
    for name in ("POD_IPS", "POD_IP"):
        text = check.env.get(name, "").strip()
        if text:
            items = text.split(",")
            return check.address_items(
                name, items, _POD_IPS_RULE, _any_ip, kind="environment variable"
            )
    return ()


def _check_router_id(check: _Checker, pod_ips: Any) -> Any:
    text = check.text("router_id", _ROUTER_ID_RULE)
    if text is _INVALID:
        return _INVALID
    if text is not None:
        address = _parse_ip(text)
        if address is None or address.version != 4 or address.is_unspecified:
            return check.fail("router_id", text, _ROUTER_ID_RULE)
        return str(address)
    if pod_ips is _INVALID:
        return _INVALID  # the env problem is reported already
    # Spec order: the IPv4 address of POD_IPS, else POD_IP.  pod_ips came
    # from POD_IPS when that was set, so look at POD_IP separately.
    candidates = [*pod_ips, check.env.get("POD_IP", "").strip()]
    for candidate in candidates:
        address = _parse_ip(candidate)
        if address is not None and address.version == 4 and not address.is_unspecified:
            return str(address)
    message = (
        "option 'router_id' is required when env POD_IPS and POD_IP hold no IPv4 address "
        f"(must be {_ROUTER_ID_RULE})"
    )
    check.errors.append(ConfigError("router_id", None, _ROUTER_ID_RULE, message=message))
    return _INVALID


def _check_password(check: _Checker) -> Any:
    value = check.read("auth_password", _PASSWORD_RULE)
    if value is _INVALID:
        return _INVALID
    if not value:
        return None
    if len(value.encode()) > MD5_KEY_MAX_BYTES:
        return check.fail("auth_password", None, _PASSWORD_RULE)
    return Secret(value)


def _check_kubeconfig(check: _Checker) -> Any:
    path = check.text("kubeconfig", _KUBECONFIG_RULE)
    if path in (None, _INVALID):
        return path
    if not os.path.isfile(path):
        return check.fail("kubeconfig", path, _KUBECONFIG_RULE)
    return path


def _check_identity(check: _Checker, nat_gw_mode: Any) -> tuple[str, str | None]:
    """Node name (option, else env NODE_NAME) and env GATEWAY_NAME.

    A missing node name is not refused: the Go speaker runs without one, and
    only pods with the local policy need it (the Kubernetes side warns then).
    A missing gateway name in NAT-gateway mode is refused: that mode announces
    only the EIPs of the gateway it names, so nothing could ever be announced.
    """
    node_name = check.text("node_name", _NODE_NAME_RULE)
    if node_name is None:
        node_name = check.env.get("NODE_NAME", "").strip() or None
    gateway_name = check.env.get("GATEWAY_NAME", "").strip() or None
    if nat_gw_mode is True and gateway_name is None:
        message = (
            "environment variable 'GATEWAY_NAME' is required with nat_gw_mode "
            f"({_GATEWAY_NAME_RULE}; without it no EIP would ever be announced)"
        )
        check.errors.append(ConfigError("GATEWAY_NAME", None, _GATEWAY_NAME_RULE, message=message))
    return (node_name.lower() if isinstance(node_name, str) else ""), gateway_name


def validate(conf: cfg.ConfigOpts | None = None, env: Mapping[str, str] | None = None) -> Settings:
    """Check every option and return typed Settings, or raise ConfigError.

    Registers the options first (idempotent), so it works on a ConfigOpts that
    was parsed before anyone registered them, as ryu-manager's is.  All
    problems are collected: one raises that ConfigError, several raise
    :class:`ConfigErrors`.
    """
    conf = register_opts(conf)
    check = _Checker(conf, os.environ if env is None else env)
    cluster_as = check.required_int("cluster_as", "the local AS", _AS_RULE)
    neighbor_as = check.required_int("neighbor_as", "the peers' AS", _AS_RULE)
    neighbors_v4, neighbors_v6 = _check_neighbors(check)
    pod_ips = _check_pod_ips(check)
    router_id = _check_router_id(check, pod_ips)
    nat_gw_mode = check.value("nat_gw_mode", _BOOL_RULE, False)
    node_name, gateway_name = _check_identity(check, nat_gw_mode)
    values = dict(
        cluster_as=cluster_as,
        neighbor_as=neighbor_as,
        neighbors_v4=neighbors_v4,
        neighbors_v6=neighbors_v6,
        router_id=router_id,
        node_ips=_check_node_ips(check),
        auth_password=_check_password(check),
        holdtime=check.duration("holdtime", _HOLDTIME_RULE, 3, 65535, DEFAULT_HOLDTIME),
        graceful_restart=check.value("graceful_restart", _BOOL_RULE, False),
        graceful_restart_time=check.duration(
            "graceful_restart_time", _GR_TIME_RULE, 1, 4095, DEFAULT_GRACEFUL_RESTART_TIME
        ),
        graceful_restart_deferral_time=check.duration(
            "graceful_restart_deferral_time",
            _GR_DEFERRAL_RULE,
            1,
            18 * 3600,
            DEFAULT_GRACEFUL_RESTART_DEFERRAL_TIME,
        ),
        passive=check.value("passivemode", _BOOL_RULE, False),
        ebgp_multihop=check.value("ebgp_multihop", _TTL_RULE, DEFAULT_EBGP_MULTIHOP),
        announce_cluster_ip=check.value("announce_cluster_ip", _BOOL_RULE, False),
        min_prefix_length_v4=check.value(
            "min_prefix_length_v4", _MIN_V4_RULE, DEFAULT_MIN_PREFIX_LENGTH_V4
        ),
        min_prefix_length_v6=check.value(
            "min_prefix_length_v6", _MIN_V6_RULE, DEFAULT_MIN_PREFIX_LENGTH_V6
        ),
        allow_special_prefixes=check.value("allow_special_prefixes", _BOOL_RULE, False),
        nat_gw_mode=nat_gw_mode,
        node_name=node_name,
        kubeconfig=_check_kubeconfig(check),
        gateway_name=gateway_name,
        pod_ips=pod_ips,
        bgp_listen_port=check.value("bgp_listen_port", _PORT_RULE, DEFAULT_BGP_PORT),
        neighbor_port=check.value("neighbor_port", _PORT_RULE, DEFAULT_BGP_PORT),
    )
    if len(check.errors) == 1:
        raise check.errors[0]
    if check.errors:
        raise ConfigErrors(check.errors)
    return Settings(**values)


def describe(settings: Settings) -> str:
    """One log line with the effective settings; the password shows as ***."""
    return (
        f"AS {settings.cluster_as} -> {settings.neighbor_as}, router ID {settings.router_id}, "
        f"peers {','.join(settings.neighbors) or '-'} port {settings.neighbor_port}, "
        f"listen {settings.bgp_listen_port}, holdtime {format_duration(settings.holdtime)}, "
        f"passive {settings.passive}, ttl {settings.ebgp_multihop}, "
        f"md5 {'on' if settings.auth_password else 'off'}, "
        f"graceful restart {settings.graceful_restart}, "
        f"nat_gw_mode {settings.nat_gw_mode}, node {settings.node_name or '-'}"
    )
