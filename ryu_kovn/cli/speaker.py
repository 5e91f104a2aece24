"""``kube-ovn-speaker``: kube-ovn's speaker command line, served by ryu-kovn.

kube-ovn starts its BGP speaker as ``/kube-ovn/kube-ovn-speaker`` with flags
that its controller builds (the VpcNatGateway sidecar) or that a user copied
from kube-ovn's speaker.yaml (the DaemonSet), followed by the user's klog flags
verbatim.  This command takes that command line as kube-ovn's Go speaker parses
it (spf13/pflag, with klog's Go flags added), turns it into ryu-kovn's options,
validates them with :func:`ryu_kovn.config.validate`, and then *becomes*
``ryu-manager ryu_kovn.app``.

Why exec ``ryu-manager`` rather than call ``ryu.cmd.manager.main()`` here:

- Import order.  ``ryu/cmd/manager.py`` monkey-patches the standard library
  with eventlet as the first statement of the module and patches threads at the
  start of ``main()``; whatever was imported earlier keeps the unpatched
  socket, select or ssl it bound.  Parsing and validating need oslo.config and
  ``ryu_kovn.config`` imported first, so an in-process start would no longer be
  what ``ryu-manager ryu_kovn.app`` runs.  A fresh interpreter is, exactly.
- The password.  kube-ovn's controller puts ``--auth-password=S`` on this
  process's command line, where ``ps`` and /proc/PID/cmdline show it to every
  user of the node.  In-process, that argv would stay for the speaker's whole
  life; exec replaces it, so it is visible only until start-up is done.
- Nothing in between.  The PID stays the same, so the kubelet's SIGTERM reaches
  the speaker itself and its exit status is the container's, without any
  signal forwarding or child reaping code.

How the options reach ryu-manager: an INI file that only exists in memory
(``memfd_create``, mode 0600), passed as ``--config-file /proc/self/fd/N`` and
inherited across exec.  It has no name on any filesystem, so the password never
touches a disk, there is nothing to delete, and nothing is left behind however
the speaker ends (even SIGKILL): the kernel frees it with its last descriptor.
Where memfd is not available, an anonymous temporary file (O_TMPFILE, or
unlinked at once) plays the same part.  The password is never in any argv.

Validation runs before exec on a private oslo ConfigOpts that reads the same
files, in the same order, as ryu-manager then does, so a bad value is refused
with ``config.validate``'s own message (prefixed with the flag that set it)
before any session can open, and the app's own validation cannot disagree.

Command-line compatibility, and where it deliberately differs from pflag:

- ``--flag=value`` and ``--flag value`` (the next argument is taken whatever
  it looks like, as pflag does); booleans as ``--flag`` or ``--flag=BOOL``.
  ``--flag false`` does *not* turn a boolean off in pflag (``false`` becomes a
  stray positional argument that the Go speaker silently ignores); here any
  positional argument is refused, so that mistake cannot pass unnoticed.
- Integers use Go's syntax (``0x10``, ``0o20``, ``1_000``, and a leading 0 is
  octal, as ``strconv.ParseUint(s, 0, n)`` reads them).  Lists
  (``--neighbor-address`` and friends) accumulate when repeated, as pflag's
  IPSlice does.  Durations are Go durations, plus plain seconds (``90``).
- ``_`` and ``-`` are interchangeable in names (klog's are ``log_file``...),
  and klog's flags also take Go's single-dash form (``-logtostderr=false``).
- klog: ``-v N`` >= 3 means DEBUG (kube-ovn switches GoBGP to debug there), else
  INFO.  A log file is used only with ``--logtostderr=false``, as in klog v2
  where ``logtostderr`` defaults to true; ``--alsologtostderr`` keeps stderr
  then.  Rotation (``log_file_max_size``), header and threshold flags are
  accepted and have no effect.
- Flags of the Go speaker that ryu-kovn has no use for are accepted and noted;
  those that would change behaviour when set (``--extended-nexthop=true``,
  ``--node-route-eip-mode=true``...) are refused with the reason.
"""

from __future__ import annotations

import locale
import logging
import os
import re
import sys
import sysconfig
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import NoReturn

from oslo_config import cfg, iniparser

from ryu_kovn import config
from ryu_kovn.config import ConfigError, Secret, Settings

__all__ = ["Invocation", "LogSettings", "UsageError", "load_settings", "main", "parse", "validate"]

PROG = "kube-ovn-speaker"
APP = "ryu_kovn.app"
# pflag's ExitOnError status, and the app's for a bad configuration.
EXIT_USAGE = 2
# klog verbosity from which kube-ovn's speaker logs at debug level (klog.V(3)).
DEBUG_VERBOSITY = 3
CONFIG_NAME = "kube-ovn-speaker.conf"
# klog writes to <program>.<host>.<user>.log.<severity>.<time>.<pid> plus a
# symlink; Ryu has one file, named after the program like klog's symlink.
LOG_FILE_NAME = "kube-ovn-speaker.log"

LOG = logging.getLogger("ryu_kovn.cli.speaker")


class UsageError(ValueError):
    """A command line that cannot start the speaker; exit status 2."""


# -- values ---------------------------------------------------------------------

_TRUE = frozenset({"1", "t", "true", "yes", "on"})
_FALSE = frozenset({"0", "f", "false", "no", "off"})
_BOOL_RULE = "true or false (also 1/0, t/f, yes/no, on/off)"


def _bool(value: str) -> bool | None:
    """Go's strconv.ParseBool set, plus the words oslo's BoolOpt takes."""
    low = value.lower()
    return True if low in _TRUE else False if low in _FALSE else None


def _bool_text(value: str) -> str:
    """INI text for a boolean option; unknown words pass on for validate() to refuse."""
    parsed = _bool(value)
    return value if parsed is None else ("true" if parsed else "false")


_GO_INT = re.compile(r"[0-9A-Za-z_]+\Z")
_GO_LEGACY_OCTAL = re.compile(r"0[0-9_]+\Z")


def _go_uint(value: str, bits: int) -> int | None:
    """``strconv.ParseUint(value, 0, bits)``: Go literal syntax, or None."""
    if not _GO_INT.match(value):
        return None
    try:
        number = int(value, 8) if _GO_LEGACY_OCTAL.match(value) else int(value, 0)
    except ValueError:
        return None
    return number if 0 <= number < (1 << bits) else None


def _uint_option(bits: int) -> Callable[[str], str]:
    def convert(value: str) -> str:
        number = _go_uint(value, bits)
        # Text Go would refuse goes on as it is: validate() names it and the rule.
        return value if number is None else str(number)

    return convert


def _ip_slice(value: str) -> list[str]:
    """pflag's IPSlice.Set: brackets and quotes dropped, comma separated, trimmed."""
    value = value.strip("[]")
    for quote in "\"'`":
        value = value.replace(quote, "")
    return [item.strip() for item in value.split(",")] if value else []


def _one_line(spelled: str, value: str, secret: bool = False) -> None:
    """Refuse what the INI file cannot carry as one value (or would read as more)."""
    shown = "<hidden>" if secret else repr(value)
    if "\n" in value or "\r" in value or "\0" in value:
        raise UsageError(
            f"invalid value for flag {spelled}: {shown} (must be a single line of text)"
        )
    try:
        value.encode(locale.getpreferredencoding(False))
    except UnicodeEncodeError:
        raise UsageError(
            f"invalid value for flag {spelled}: {shown} (must be text in the locale's "
            f"encoding, {locale.getpreferredencoding(False)})"
        ) from None


def _ini_value(value: str) -> str:
    # oslo's INI parser strips one pair of matching quotes and surrounding
    # blanks, and substitutes $name: quoting and $$ keep any one-line text
    # exactly as it was given, leading spaces and quotes of a password included.
    return '"' + value.replace("$", "$$") + '"'


# -- the flag table ----------------------------------------------------------------

OPTION = "option"  # sets a ryu-kovn (or Ryu wsapi) option in the INI file
LIST = "list"  # appends to a list option, as pflag's IPSlice does
SECRET = "secret"  # the password
CONFIG_FILE = "config-file"
LOG_PERM = "log-perm"
KLOG = "klog"
IGNORED = "ignored"
REFUSED_IF_TRUE = "refused-if-true"
REFUSED_IF_SET = "refused-if-set"
HELP = "help"


@dataclass(frozen=True)
class Flag:
    name: str  # as kube-ovn spells it, with dashes
    role: str
    option: str = ""  # the INI option, for OPTION / LIST / SECRET
    boolean: bool = False  # `--name` alone means true; a value needs `=`
    convert: Callable[[str], str] | None = None
    why: str = ""  # help text; for ignored and refused flags, the reason

    @property
    def spelled(self) -> str:
        return f"--{self.name}"


def _option(name: str, why: str, *, boolean: bool = False,
            convert: Callable[[str], str] | None = None) -> Flag:  # fmt: skip
    if boolean:
        convert = _bool_text
    return Flag(name, OPTION, name.replace("-", "_"), boolean, convert, why)


_NO_BFD = "only used with --enable-bfd, which ryu-kovn does not support"
_NO_GRPC = (
    "ryu-kovn has no gRPC API (that was GoBGP's); its views are served over REST "
    "(--wsapi-host/--wsapi-port) and read with ryu-kovn-ctl"
)

# fmt: off
FLAGS: tuple[Flag, ...] = (
    # kube-ovn's speaker flags that are ryu-kovn options of the same name.
    _option("cluster-as", "The local AS.", convert=_uint_option(32)),
    _option("neighbor-as", "The AS of the peers.", convert=_uint_option(32)),
    Flag("neighbor-address", LIST, "neighbor_address", why="IPv4 peers, comma separated."),
    Flag("neighbor-ipv6-address", LIST, "neighbor_ipv6_address",
         why="IPv6 peers, comma separated."),
    _option("router-id", "BGP identifier (default: the IPv4 of env POD_IPS/POD_IP).",
            convert=str.strip),
    Flag("node-ips", LIST, "node_ips", why="Node addresses to use as next hop."),
    Flag("auth-password", SECRET, "auth_password", why="TCP MD5 password (RFC 2385)."),
    _option("holdtime", "Hold time, a Go duration (90s, 1m0s) or seconds."),
    _option("graceful-restart", "Offer graceful restart (RFC 4724).", boolean=True),
    _option("graceful-restart-time", "Graceful restart time, a duration."),
    _option("graceful-restart-deferral-time", "Graceful restart deferral time, a duration."),
    _option("passivemode", "Never connect; wait for the peers.", boolean=True),
    _option("ebgp-multihop", "IP TTL of the sessions, 1 to 255.", convert=_uint_option(8)),
    _option("announce-cluster-ip", "Announce annotated ClusterIPs.", boolean=True),
    _option("nat-gw-mode", "Announce the EIPs of env GATEWAY_NAME only.", boolean=True),
    _option("node-name", "This node's name (default: env NODE_NAME)."),
    _option("kubeconfig", "Kubeconfig file (default: in-cluster credentials)."),
    # ryu-kovn's own.
    _option("bgp-listen-port", "TCP port to accept sessions on (passive mode)."),
    _option("neighbor-port", "TCP port of the peers."),
    _option("wsapi-host", "Address of the REST API (default 127.0.0.1)."),
    _option("wsapi-port", "Port of the REST API (default 8080)."),
    Flag("config-file", CONFIG_FILE, why="An INI file of options; flags override it."),
    Flag("help", HELP, boolean=True, why="Show this help."),
    # The Go speaker's other flags.
    Flag("log-perm", LOG_PERM,
         why="Permissions of the log file, octal (as Ryu's --log-file-mode)."),
    Flag("grpc-host", IGNORED, why=_NO_GRPC),
    Flag("grpc-port", IGNORED, why=_NO_GRPC),
    Flag("pprof-port", IGNORED, why=(
        "ryu-kovn has no Go profiler; its /metrics is served by the REST API "
        "(--wsapi-host/--wsapi-port)")),
    Flag("enable-metrics", IGNORED, boolean=True,
         why="/metrics is always served by the REST API (--wsapi-host/--wsapi-port)"),
    Flag("vpc-nat-gw-namespace", IGNORED,
         why="only used by --node-route-eip-mode, which ryu-kovn does not support"),
    Flag("bfd-min-tx", IGNORED, why=_NO_BFD),
    Flag("bfd-min-rx", IGNORED, why=_NO_BFD),
    Flag("bfd-detection-multiplier", IGNORED, why=_NO_BFD),
    Flag("extended-nexthop", REFUSED_IF_TRUE, boolean=True, why=(
        "announcing prefixes of one family to neighbors of the other (extended next "
        "hop) is not implemented; each family goes to neighbors of that family")),
    Flag("node-route-eip-mode", REFUSED_IF_TRUE, boolean=True, why=(
        "announcing the EIPs of every NAT gateway on this node from the host network "
        "is not implemented; run the speaker as the gateway's sidecar (--nat-gw-mode)")),
    Flag("enable-lb-svc-announce", REFUSED_IF_TRUE, boolean=True,
         why="announcing LoadBalancer Service VIPs is not implemented"),
    Flag("enable-bfd", REFUSED_IF_TRUE, boolean=True, why="BFD is not implemented"),
    Flag("allowed-source-addresses", REFUSED_IF_SET, why=(
        "choosing the session's source address from a list is not implemented; "
        "the source is the address routing picks for the peer")),
    Flag("allowed-source-ipv6-addresses", REFUSED_IF_SET, why=(
        "choosing the session's source address from a list is not implemented; "
        "the source is the address routing picks for the peer")),
    Flag("config", REFUSED_IF_SET, why=(
        "kube-ovn's YAML speaker config file is not read; give its settings as "
        "flags, or in an INI file with --config-file")),
    # klog's flags (k8s.io/klog/v2 InitFlags), which kube-ovn adds to pflag.
    Flag("v", KLOG, why="Log verbosity; 3 or more logs at DEBUG, else INFO."),
    Flag("logtostderr", KLOG, boolean=True, why="Log to stderr only (klog default true)."),
    Flag("alsologtostderr", KLOG, boolean=True, why="Log to stderr as well as to the file."),
    Flag("log-file", KLOG, why="Log file, used with --logtostderr=false."),
    Flag("log-dir", KLOG, why=f"Directory for {LOG_FILE_NAME}, used with --logtostderr=false."),
    Flag("log-file-max-size", KLOG, why="Accepted, no effect (no rotation)."),
    Flag("vmodule", KLOG, why="Accepted, no effect."),
    Flag("stderrthreshold", KLOG, why="Accepted, no effect."),
    Flag("log-backtrace-at", KLOG, why="Accepted, no effect."),
    Flag("skip-headers", KLOG, boolean=True, why="Accepted, no effect."),
    Flag("skip-log-headers", KLOG, boolean=True, why="Accepted, no effect."),
    Flag("add-dir-header", KLOG, boolean=True, why="Accepted, no effect."),
    Flag("one-output", KLOG, boolean=True, why="Accepted, no effect."),
    Flag("legacy-stderr-threshold-behavior", KLOG, boolean=True, why="Accepted, no effect."),
)
# fmt: on

_BY_NAME = {flag.name: flag for flag in FLAGS}
_BY_OPTION = {flag.option: flag for flag in FLAGS if flag.option}
_KLOG_USED = ("v", "logtostderr", "alsologtostderr", "log-file", "log-dir")


def _lookup(name: str) -> Flag | None:
    return _BY_NAME.get(name.replace("_", "-"))


# -- what the parse produces ---------------------------------------------------


@dataclass(frozen=True)
class LogSettings:
    """Ryu's logging as klog's flags ask for it; None leaves Ryu's setting alone."""

    level: int | None = None  # logging.DEBUG or logging.INFO
    use_stderr: bool | None = None
    file: str | None = None
    file_mode: str | None = None  # octal text, Ryu's --log-file-mode

    def ryu_args(self) -> list[str]:
        args: list[str] = []
        if self.level is not None:
            # Ryu reads default_log_level before verbose: this wins over a
            # `verbose = true` in a --config-file, as a flag should.
            args += ["--default-log-level", str(self.level)]
        if self.use_stderr is not None:
            args.append("--use-stderr" if self.use_stderr else "--nouse-stderr")
        if self.file is not None:
            args += ["--log-file", self.file]
        if self.file_mode is not None:
            args += ["--log-file-mode", self.file_mode]
        return args


@dataclass(frozen=True)
class Invocation:
    """What a command line asks for, before anything is started.

    ``options`` holds the INI text of every option a flag set, except the
    password, which is only in ``password`` (a Secret: reprs show ``***``).
    ``sources`` maps an option to the flag that set it, for error messages.
    """

    options: Mapping[str, str] = field(default_factory=dict)
    password: Secret | None = None
    config_files: tuple[str, ...] = ()
    log: LogSettings = field(default_factory=LogSettings)
    sources: Mapping[str, str] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    help: bool = False

    def render_ini(self) -> str:
        """The private INI file's text.  It holds the password: never log it."""
        lines = [f"# Written by {PROG} from its command line.", "[DEFAULT]"]
        lines += [f"{name} = {_ini_value(value)}" for name, value in self.options.items()]
        if self.password is not None:
            lines.append(f"auth_password = {_ini_value(self.password.reveal())}")
        return "\n".join(lines) + "\n"

    def manager_argv(self, config_path: str) -> list[str]:
        """ryu-manager's argv: the user's files first, so that flags override them."""
        argv = _ryu_manager()
        for path in (*self.config_files, config_path):
            argv += ["--config-file", path]
        return [*argv, *self.log.ryu_args(), APP]


# -- parsing --------------------------------------------------------------------


class _Parser:
    def __init__(self) -> None:
        self.options: dict[str, str] = {}
        self.lists: dict[str, list[str]] = {}
        self.sources: dict[str, str] = {}
        self.password: str | None = None
        self.config_files: list[str] = []
        self.klog: dict[str, str] = {}
        self.klog_spelled: dict[str, str] = {}
        self.others: dict[str, tuple[str, str]] = {}  # ignored/refused: name -> (spelled, value)
        self.log_perm: str | None = None
        self.positional: list[str] = []
        self.help = False

    def run(self, args: list[str]) -> None:
        i = 0
        while i < len(args):
            arg = args[i]
            i += 1
            if arg == "--":
                self.positional += args[i:]
                break
            if arg.startswith("--"):
                i = self._long(arg[2:], args, i)
            elif arg.startswith("-") and arg != "-":
                i = self._short(arg, args, i)
            else:
                self.positional.append(arg)  # pflag keeps parsing after one

    def _long(self, body: str, args: list[str], i: int) -> int:
        name, has_value, value = body.partition("=")
        if not name or name.startswith("-"):
            raise UsageError(f"bad flag syntax: --{name}")
        flag = _lookup(name)
        if flag is None:
            raise UsageError(f"unknown flag: --{name}")
        spelled = f"--{name}"
        if not has_value:
            if flag.boolean:
                value = "true"
            elif i < len(args):
                value, i = args[i], i + 1
            else:
                raise UsageError(f"flag needs an argument: {spelled}")
        self._set(flag, spelled, value)
        return i

    def _short(self, arg: str, args: list[str], i: int) -> int:
        body = arg[1:]
        name = body.partition("=")[0]
        flag = _lookup(name) if len(name) > 1 else None
        if flag is not None and flag.role == KLOG:
            # Go's flag package syntax, klog's own: -logtostderr=false.
            return self._long(body, args, i)
        # pflag shorthands: only klog's -v exists (and pflag's -h).
        letter, rest = body[0], body[1:]
        if letter == "h" and not rest:
            self.help = True
            return i
        if letter != "v":
            raise UsageError(f"unknown shorthand flag: {letter!r} in -{name}")
        if rest.startswith("="):
            value = rest[1:]
        elif rest:
            value = rest  # -v5
        elif i < len(args):
            value, i = args[i], i + 1
        else:
            raise UsageError("flag needs an argument: 'v' in -v")
        self._set(_BY_NAME["v"], "-v", value)
        return i

    def _set(self, flag: Flag, spelled: str, value: str) -> None:
        role = flag.role
        if role == OPTION:
            _one_line(spelled, value)
            self.options[flag.option] = flag.convert(value) if flag.convert else value
            self.sources[flag.option] = spelled
        elif role == LIST:
            _one_line(spelled, value)
            self.lists.setdefault(flag.option, []).extend(_ip_slice(value))
            self.sources[flag.option] = spelled
        elif role == SECRET:
            _one_line(spelled, value, secret=True)
            self.password = value
            self.sources[flag.option] = spelled
        elif role == CONFIG_FILE:
            self.config_files.append(value)
        elif role == LOG_PERM:
            if not re.fullmatch(r"[0-7]{1,4}", value):
                raise UsageError(
                    f"invalid value for flag {spelled}: {value!r} "
                    "(must be octal file permissions, e.g. 640)"
                )
            self.log_perm = value
        elif role == KLOG:
            self._klog(flag, spelled, value)
        elif role == HELP:
            self.help = _flag_bool(spelled, value)
        else:
            if flag.boolean:
                _flag_bool(spelled, value)
            self.others[flag.name] = (spelled, value)

    def _klog(self, flag: Flag, spelled: str, value: str) -> None:
        if flag.boolean:
            _flag_bool(spelled, value)
        elif flag.name == "v":
            # klog's Level.Set: strconv.ParseInt(value, 10, 32).
            if not re.fullmatch(r"[+-]?[0-9]+", value) or not -(2**31) <= int(value) < 2**31:
                raise UsageError(
                    f"invalid value for flag {spelled}: {value!r} "
                    "(must be an integer, klog's verbosity, e.g. -v=3)"
                )
        self.klog[flag.name] = value
        self.klog_spelled[flag.name] = spelled

    # -- after the last argument -------------------------------------------------

    def finish(self) -> Invocation:
        if self.help:
            return Invocation(help=True)
        if self.positional:
            raise UsageError(
                f"unexpected argument {self.positional[0]!r}: {PROG} takes flags only "
                "(a boolean flag takes its value as --flag=false, not --flag false)"
            )
        notes = self._refuse_or_note()
        log, log_notes = self._log_settings()
        options = dict(self.options)
        for option, items in self.lists.items():
            options[option] = ",".join(items)
        if "wsapi_port" in options:
            _check_port(self.sources["wsapi_port"], options["wsapi_port"])
        return Invocation(
            options=options,
            password=None if self.password is None else Secret(self.password),
            config_files=tuple(self.config_files),
            log=log,
            sources=dict(self.sources),
            notes=tuple(notes + log_notes),
        )

    def _refuse_or_note(self) -> list[str]:
        notes = []
        for name, (spelled, value) in self.others.items():
            flag = _BY_NAME[name]
            if flag.role == REFUSED_IF_TRUE and _bool(value):
                raise UsageError(
                    f"{spelled}={value} is not supported by ryu-kovn: {flag.why}. "
                    f"Remove the flag (or set {spelled}=false) to start."
                )
            if flag.role == REFUSED_IF_SET and value.strip():
                raise UsageError(
                    f"{spelled}={value} is not supported by ryu-kovn: {flag.why}. "
                    "Remove the flag to start."
                )
            reason = flag.why if flag.role == IGNORED else "no effect when off or empty"
            notes.append(f"{spelled}={value} accepted and ignored: {reason}")
        return notes

    def _log_settings(self) -> tuple[LogSettings, list[str]]:
        klog = self.klog
        notes = []
        ignored = [f"{self.klog_spelled[n]}={klog[n]}" for n in klog if n not in _KLOG_USED]
        if ignored:
            notes.append(f"klog flags accepted and ignored: {' '.join(ignored)}")
        level = None
        if "v" in klog:
            level = logging.DEBUG if int(klog["v"]) >= DEBUG_VERBOSITY else logging.INFO
        use_stderr: bool | None = None
        log_file: str | None = None
        if any(name in klog for name in ("logtostderr", "alsologtostderr", "log-file", "log-dir")):
            if _bool(klog.get("logtostderr", "true")):
                use_stderr = True
                for name in ("log-file", "log-dir"):
                    if name in klog:
                        notes.append(
                            f"{self.klog_spelled[name]}={klog[name]} ignored: klog writes "
                            "no file while --logtostderr is true (its default); add "
                            "--logtostderr=false to log to the file"
                        )
            else:
                use_stderr = bool(_bool(klog.get("alsologtostderr", "false")))
                log_file = klog.get("log-file") or os.path.join(
                    klog.get("log-dir") or tempfile.gettempdir(), LOG_FILE_NAME
                )
        return LogSettings(level, use_stderr, log_file, self.log_perm), notes


def _flag_bool(spelled: str, value: str) -> bool:
    parsed = _bool(value)
    if parsed is None:
        raise UsageError(f"invalid value for flag {spelled}: {value!r} (must be {_BOOL_RULE})")
    return parsed


def _check_port(spelled: str, value: str) -> None:
    if not re.fullmatch(r"[0-9]+", value.strip()) or not 1 <= int(value) <= 65535:
        raise UsageError(
            f"invalid value for flag {spelled}: {value!r} (must be an integer from 1 to 65535)"
        )


def parse(argv: Sequence[str]) -> Invocation:
    """Read a kube-ovn-speaker command line; starts, opens and sends nothing.

    Raises :class:`UsageError` for what cannot start (unknown flag, missing
    value, positional argument, refused feature).  Option values are checked
    by :func:`validate`, with config.validate's rules.
    """
    parser = _Parser()
    parser.run(list(argv))
    return parser.finish()


# -- validation -------------------------------------------------------------------


def _private_config(text: str) -> int:
    """A descriptor of an unnamed, mode 0600 file holding ``text`` (close-on-exec)."""
    data = text.encode(locale.getpreferredencoding(False))
    try:
        fd = os.memfd_create(CONFIG_NAME, os.MFD_CLOEXEC)
    except (AttributeError, OSError):
        # No memfd (old kernel, seccomp): O_TMPFILE, else a file unlinked at once.
        with tempfile.TemporaryFile() as tmp:
            fd = os.dup(tmp.fileno())
    try:
        os.fchmod(fd, 0o600)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    except BaseException:
        os.close(fd)
        raise
    return fd


def _fd_path(fd: int) -> str:
    # Opening the /proc link reopens the file itself, from offset 0, in this
    # process or, after exec, in ryu-manager (same PID, same descriptors).
    return f"/proc/self/fd/{fd}"


def load_settings(
    invocation: Invocation, config_path: str, env: Mapping[str, str] | None = None
) -> Settings:
    """Validate the files ryu-manager will read, in its order: ``config.validate``."""
    conf = cfg.ConfigOpts()
    config.register_opts(conf)
    args = []
    for path in (*invocation.config_files, config_path):
        args += ["--config-file", path]
    try:
        conf(args=args, project=None, default_config_files=[], default_config_dirs=[])
    except cfg.ConfigFilesNotFoundError as err:
        raise UsageError(f"--config-file: no such file: {', '.join(err.config_files)}") from None
    except cfg.ConfigFilesPermissionDeniedError as err:
        raise UsageError(
            f"--config-file: permission denied: {', '.join(err.config_files)}"
        ) from None
    except cfg.ConfigFileParseError as err:
        # oslo's message quotes the offending line, which may be a password
        # line: show only the parser's own error, which it raised this from.
        cause = err.__context__
        detail = (
            f" at line {cause.lineno} ({cause.msg})"
            if isinstance(cause, iniparser.ParseError)
            else ""
        )
        raise UsageError(f"--config-file: cannot parse {err.config_file}{detail}") from None
    return config.validate(conf, env=os.environ if env is None else env)


def validate(invocation: Invocation, env: Mapping[str, str] | None = None) -> Settings:
    """The Settings the app would run with; raises ConfigError (or UsageError)."""
    fd = _private_config(invocation.render_ini())
    try:
        return load_settings(invocation, _fd_path(fd), env)
    finally:
        os.close(fd)


def explain(err: ConfigError, invocation: Invocation) -> str:
    """config.validate's message, each line led by the flag that set the value."""
    lines = []
    for error in err.errors:
        spelled = invocation.sources.get(error.option)
        if spelled is not None:
            lines.append(f"{spelled}: {error}")
        elif error.option in _BY_OPTION and error.value is None:
            lines.append(f"{error}; set it with {_BY_OPTION[error.option].spelled}")
        else:
            lines.append(str(error))
    if len(lines) == 1:
        return lines[0]
    return f"{len(lines)} configuration errors:\n" + "\n".join(f"  {line}" for line in lines)


# -- running ----------------------------------------------------------------------


def _ryu_manager() -> list[str]:
    """ryu-manager of this installation; the module itself if no script was installed."""
    script = os.path.join(sysconfig.get_path("scripts"), "ryu-manager")
    if os.access(script, os.X_OK):
        return [script]
    return [sys.executable, "-m", "ryu.cmd.manager"]


def _exec(argv: list[str]) -> NoReturn:
    """Become ryu-manager (tests replace this)."""
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(argv[0], argv)


_OWN = frozenset({"bgp-listen-port", "neighbor-port", "wsapi-host", "wsapi-port", "config-file",
                  "help"})  # fmt: skip


def usage() -> str:
    groups: dict[str, Callable[[Flag], bool]] = {
        "kube-ovn speaker flags": lambda f: (
            f.role in (OPTION, LIST, SECRET, LOG_PERM) and f.name not in _OWN
        ),
        "ryu-kovn's own": lambda f: f.name in _OWN,
        "accepted, no effect": lambda f: f.role == IGNORED,
        "refused when set (not implemented)": lambda f: f.role in (REFUSED_IF_TRUE, REFUSED_IF_SET),
        "klog (kube-ovn's extraArgs)": lambda f: f.role == KLOG,
    }
    out = [
        f"Usage: {PROG} [flags]",
        "",
        "kube-ovn's speaker command line, run by ryu-kovn (ryu-manager ryu_kovn.app).",
        "Env: NODE_NAME, POD_IP, POD_IPS, GATEWAY_NAME (with --nat-gw-mode).",
    ]
    for title, member in groups.items():
        out += ["", f"{title}:"]
        for flag in filter(member, FLAGS):
            value = "" if flag.boolean else " VALUE"
            out.append(f"  {flag.spelled}{value}\n      {flag.why}")
    return "\n".join(out)


def _password_values(args: Sequence[str]) -> list[str]:
    """Every text that may be the password, wherever a message could quote it."""
    found = []
    for i, arg in enumerate(args):
        name, has_value, value = arg.lstrip("-").partition("=")
        if name.replace("_", "-") == "auth-password":
            if has_value:
                found.append(value)
            elif i + 1 < len(args):
                found.append(args[i + 1])
    return sorted((v for v in found if v), key=len, reverse=True)


def _fail(message: str, secrets: Sequence[str]) -> int:
    for secret in secrets:
        message = message.replace(secret, "***")
    print(f"{PROG}: {message}", file=sys.stderr)
    return EXIT_USAGE


def _log_notes(invocation: Invocation) -> None:
    """Start-up notes (INFO) where the speaker's log will go, before Ryu takes over."""
    handlers: list[logging.Handler] = []
    if invocation.log.use_stderr is not False:
        handlers.append(logging.StreamHandler(sys.stderr))
    if invocation.log.file is not None:
        try:
            handlers.append(logging.FileHandler(invocation.log.file))
        except OSError:
            pass  # Ryu reports it, with its own exit, once it opens the file
    if not handlers:
        handlers.append(logging.StreamHandler(sys.stderr))
    formatter = logging.Formatter(f"{PROG}: %(message)s")
    for old in list(LOG.handlers):  # main() may run more than once in one process (tests)
        LOG.removeHandler(old)
        old.close()
    for handler in handlers:
        handler.setFormatter(formatter)
        LOG.addHandler(handler)
    LOG.setLevel(logging.INFO)
    LOG.propagate = False
    for note in invocation.notes:
        LOG.info("%s", note)


def main(argv: Sequence[str] | None = None) -> int:
    """Parse, validate, then exec ryu-manager; returns only on a refusal."""
    args = list(sys.argv[1:] if argv is None else argv)
    secrets = _password_values(args)
    try:
        invocation = parse(args)
    except UsageError as err:
        return _fail(f"{err}\nRun '{PROG} --help' for the flags.", secrets)
    if invocation.help:
        try:
            print(usage())
        except BrokenPipeError:
            pass  # `kube-ovn-speaker --help | head`
        return 0
    _log_notes(invocation)
    fd = _private_config(invocation.render_ini())
    path = _fd_path(fd)
    try:
        load_settings(invocation, path)
    except ConfigError as err:
        os.close(fd)
        return _fail(f"refusing to start: {explain(err, invocation)}", secrets)
    except UsageError as err:
        os.close(fd)
        return _fail(f"refusing to start: {err}", secrets)
    argv_out = invocation.manager_argv(path)
    LOG.info("starting %s", " ".join(argv_out))
    os.set_inheritable(fd, True)
    try:
        _exec(argv_out)
    except OSError as err:
        os.close(fd)
        return _fail(f"cannot run {argv_out[0]}: {err.strerror}", secrets)
