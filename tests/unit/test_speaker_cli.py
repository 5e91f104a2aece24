"""The drop-in ``kube-ovn-speaker`` command line, parsed and validated only.

Nothing here starts Ryu, opens a socket or sends a packet: :func:`speaker.parse`
and :func:`speaker.validate` only read argv and files, and ``main()`` runs with
its final exec replaced.  The NAT-gateway vectors carry the addresses kube-ovn's
controller really writes (100.127.4.161, fd:01::1...): they are data here and
must never become destinations.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ryu_kovn.cli import speaker
from ryu_kovn.cli.speaker import Invocation, UsageError
from ryu_kovn.config import ConfigError, Settings

PASSWORD = "Kube-0vn$ecret-7f3e9"
ENV_KEYS = ("GATEWAY_NAME", "POD_IP", "POD_IPS", "NODE_NAME")

# kube-ovn pkg/controller/vpc_nat_gateway.go: the sidecar's args, in its order,
# then the gateway's spec.bgpSpeaker.extraArgs verbatim.
NAT_GW_ARGS = [
    "--nat-gw-mode",
    "--router-id=1.1.1.1",
    f"--auth-password={PASSWORD}",
    "--graceful-restart",
    "--holdtime=1m0s",
    "--cluster-as=65500",
    "--neighbor-as=65000",
    "--neighbor-address=100.127.4.161",
    "--neighbor-ipv6-address=fd:01::1",
    "-v5",
]
NAT_GW_ENV = {"GATEWAY_NAME": "gw1", "POD_IP": "10.0.1.5", "POD_IPS": "10.0.1.5,fd00:10::5"}

# kube-ovn yamls/speaker.yaml: the DaemonSet's args; NODE_NAME and POD_IP come
# from the downward API.
DAEMONSET_ARGS = ["--neighbor-address=10.32.32.1", "--neighbor-as=65030", "--cluster-as=65000"]
DAEMONSET_ENV = {"NODE_NAME": "Node-A", "POD_IP": "10.32.32.2"}

# Enough for validate(); each test adds what it is about.
BASE = ["--cluster-as=65500", "--neighbor-as=65000", "--neighbor-address=192.0.2.2",
        "--router-id=192.0.2.1"]  # fmt: skip


def settings_of(argv: Sequence[str], env: dict[str, str] | None = None) -> Settings:
    return speaker.validate(speaker.parse(argv), env={} if env is None else env)


@pytest.fixture
def environ(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """main() reads os.environ: start each test from none of the speaker's variables."""
    for key in ENV_KEYS:
        monkeypatch.delenv(key, raising=False)
    yield monkeypatch


class Exec:
    """Stands in for the exec: records what ryu-manager would have been given."""

    def __init__(self) -> None:
        self.argv: list[str] | None = None
        self.ini = ""
        self.mode = 0
        self.inheritable = False

    def __call__(self, argv: list[str]) -> None:
        self.argv = list(argv)
        last = max(i for i, arg in enumerate(argv) if arg == "--config-file")
        path = argv[last + 1]
        fd = int(path.rsplit("/", 1)[1])
        self.ini = Path(path).read_text()
        self.mode = os.stat(path).st_mode & 0o777
        self.inheritable = os.get_inheritable(fd)
        os.close(fd)
        raise SystemExit(0)


@pytest.fixture
def fake_exec(monkeypatch: pytest.MonkeyPatch) -> Exec:
    recorder = Exec()
    monkeypatch.setattr(speaker, "_exec", recorder)
    return recorder


def run_main(argv: Sequence[str]) -> int:
    try:
        return speaker.main(argv)
    except SystemExit as done:  # the fake exec
        return int(done.code or 0)


# -- the command lines kube-ovn writes ---------------------------------------------


def test_nat_gateway_sidecar_command_line():
    inv = speaker.parse(NAT_GW_ARGS)
    assert inv.log.level == logging.DEBUG
    s = speaker.validate(inv, env=NAT_GW_ENV)
    assert (s.cluster_as, s.neighbor_as) == (65500, 65000)
    assert s.holdtime == 60
    assert s.graceful_restart is True
    assert (s.graceful_restart_time, s.graceful_restart_deferral_time) == (90, 360)
    assert s.neighbors_v4 == ("100.127.4.161",)
    assert s.neighbors_v6 == ("fd:1::1",)
    assert s.router_id == "1.1.1.1"
    assert s.nat_gw_mode is True and s.gateway_name == "gw1"
    assert s.auth_password is not None and s.auth_password.reveal() == PASSWORD
    assert s.passive is False and s.ebgp_multihop == 1


def test_nat_gateway_sidecar_through_main(environ, fake_exec, capsys):
    for key, value in NAT_GW_ENV.items():
        environ.setenv(key, value)
    assert run_main(NAT_GW_ARGS) == 0
    argv = fake_exec.argv
    assert argv is not None
    assert argv[-1] == "ryu_kovn.app"
    assert Path(argv[0]).name == "ryu-manager" or argv[1:3] == ["-m", "ryu.cmd.manager"]
    assert argv[argv.index("--default-log-level") + 1] == str(logging.DEBUG)
    assert all(PASSWORD not in arg for arg in argv)
    assert fake_exec.mode == 0o600
    assert fake_exec.inheritable, "the config descriptor must survive the exec"
    assert 'auth_password = "Kube-0vn$$ecret-7f3e9"' in fake_exec.ini
    assert 'holdtime = "1m0s"' in fake_exec.ini
    out = capsys.readouterr()
    assert PASSWORD not in out.out + out.err
    assert "starting " in out.err and "ryu_kovn.app" in out.err


def test_daemonset_command_line():
    s = settings_of(DAEMONSET_ARGS, DAEMONSET_ENV)
    assert (s.cluster_as, s.neighbor_as) == (65000, 65030)
    assert s.neighbors_v4 == ("10.32.32.1",) and s.neighbors_v6 == ()
    assert s.router_id == "10.32.32.2"  # from POD_IP, as the Go speaker does
    assert s.node_name == "node-a"
    assert s.nat_gw_mode is False and s.graceful_restart is False
    assert s.holdtime == 90 and s.auth_password is None


# -- syntax ------------------------------------------------------------------------


BOOL_FLAGS = {
    "graceful-restart": "graceful_restart",
    "passivemode": "passive",
    "announce-cluster-ip": "announce_cluster_ip",
    "nat-gw-mode": "nat_gw_mode",
}
BOOL_FORMS = [("", True), ("=true", True), ("=false", False), ("=1", True), ("=0", False),
              ("=t", True), ("=F", False), ("=TRUE", True), ("=False", False),
              ("=yes", True), ("=off", False)]  # fmt: skip


@pytest.mark.parametrize("flag", sorted(BOOL_FLAGS))
@pytest.mark.parametrize(("suffix", "expected"), BOOL_FORMS)
def test_every_boolean_form(flag, suffix, expected):
    s = settings_of([*BASE, f"--{flag}{suffix}"], {"GATEWAY_NAME": "gw1"})
    assert getattr(s, BOOL_FLAGS[flag]) is expected


def test_boolean_defaults_and_last_one_wins():
    s = settings_of(BASE)
    assert not (s.graceful_restart or s.passive or s.announce_cluster_ip or s.nat_gw_mode)
    assert settings_of([*BASE, "--passivemode", "--passivemode=false"]).passive is False


def test_a_boolean_word_that_is_no_boolean_is_refused_with_the_rule():
    with pytest.raises(ConfigError, match=r"'graceful_restart': 'maybe' \(must be true or false"):
        settings_of([*BASE, "--graceful-restart=maybe"])


def test_a_boolean_does_not_take_the_next_argument():
    # pflag would set it true and silently drop "false"; refusing is safer.
    with pytest.raises(UsageError, match=r"unexpected argument 'false'.*--flag=false"):
        speaker.parse([*BASE, "--graceful-restart", "false"])


def test_both_value_syntaxes_mean_the_same():
    equals = speaker.parse(NAT_GW_ARGS)
    spaced = []
    for arg in NAT_GW_ARGS:
        name, has_value, value = arg.partition("=")
        spaced += [name, value] if has_value else [arg]
    assert spaced[:3] == ["--nat-gw-mode", "--router-id", "1.1.1.1"]
    assert speaker.parse(spaced) == equals


def test_a_separate_value_is_taken_whatever_it_looks_like():
    inv = speaker.parse([*BASE, "--auth-password", "-v=9", "--node-name", "--x"])
    assert inv.password is not None and inv.password.reveal() == "-v=9"
    assert inv.options["node_name"] == "--x"
    assert inv.log.level is None


def test_underscores_and_dashes_are_one_name():
    assert speaker.parse(["--cluster_as=7"]).options == speaker.parse(["--cluster-as=7"]).options


@pytest.mark.parametrize("argv", [["--holdtime"], ["--cluster-as"], ["-v"]])
def test_a_value_flag_at_the_end_needs_its_value(argv):
    with pytest.raises(UsageError, match="flag needs an argument"):
        speaker.parse(argv)


def test_go_integer_syntax():
    def cluster_as(text: str) -> int:
        return settings_of([*BASE, f"--cluster-as={text}"]).cluster_as

    assert cluster_as("65500") == 65500
    assert cluster_as("0x10") == 16
    assert cluster_as("0o20") == 16
    assert cluster_as("020") == 16  # a leading 0 is octal to strconv.ParseUint(s, 0, 32)
    assert cluster_as("65_500") == 65500
    assert cluster_as("4294967295") == 4294967295


@pytest.mark.parametrize(
    ("arg", "option", "value"),
    [
        ("--cluster-as=4294967296", "cluster_as", "4294967296"),
        ("--cluster-as=0", "cluster_as", "0"),
        ("--neighbor-as=-1", "neighbor_as", "-1"),
        ("--ebgp-multihop=256", "ebgp_multihop", "256"),
        ("--ebgp-multihop=0", "ebgp_multihop", "0"),
        ("--neighbor-address=fd:01::1", "neighbor_address", "fd:01::1"),
        ("--router-id=2001:db8::1", "router_id", "2001:db8::1"),
    ],
)
def test_out_of_range_values_are_refused_by_the_config_rules(arg, option, value):
    with pytest.raises(ConfigError) as err:
        settings_of([*BASE, arg])
    assert [(e.option, e.value) for e in err.value.errors] == [(option, value)]


def test_address_lists_accumulate_like_pflag_ip_slices():
    s = settings_of([*BASE[:2], "--neighbor-address=192.0.2.2",
                     "--neighbor-address=[192.0.2.3, 192.0.2.4]",
                     "--neighbor-ipv6-address", "2001:db8::2",
                     "--node-ips=192.0.2.10,2001:db8::10", "--router-id=192.0.2.1"])  # fmt: skip
    assert s.neighbors_v4 == ("192.0.2.2", "192.0.2.3", "192.0.2.4")
    assert s.neighbors_v6 == ("2001:db8::2",)
    assert s.node_ips == ("192.0.2.10", "2001:db8::10")


def test_other_options_reach_the_settings():
    s = settings_of([*BASE, "--graceful-restart-time=2m", "--graceful-restart-deferral-time=1h",
                     "--ebgp-multihop=2", "--node-name=Node-B", "--bgp-listen-port=1179",
                     "--neighbor-port=2179"])  # fmt: skip
    assert (s.graceful_restart_time, s.graceful_restart_deferral_time) == (120, 3600)
    assert (s.ebgp_multihop, s.node_name) == (2, "node-b")
    assert (s.bgp_listen_port, s.neighbor_port) == (1179, 2179)


def test_wsapi_flags_go_to_ryu():
    inv = speaker.parse([*BASE, "--wsapi-host=::1", "--wsapi-port", "8081"])
    assert (inv.options["wsapi_host"], inv.options["wsapi_port"]) == ("::1", "8081")
    with pytest.raises(UsageError, match=r"--wsapi-port: '0' \(must be an integer from 1 to"):
        speaker.parse(["--wsapi-port=0"])


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("1m0s", 60), ("90", 90), ("90s", 90), ("1m30s", 90), ("3s", 3), ("1h0m0s", 3600)],
)
def test_holdtime_as_go_duration_or_plain_seconds(text, seconds):
    assert settings_of([*BASE, f"--holdtime={text}"]).holdtime == seconds


def test_bad_holdtime_names_flag_value_and_rule(environ, capsys):
    with pytest.raises(ConfigError) as err:
        settings_of([*BASE, "--holdtime=2s"])
    assert err.value.option == "holdtime" and err.value.value == "2s"
    assert run_main([*BASE, "--holdtime=2s"]) == 2
    message = capsys.readouterr().err
    assert "--holdtime: invalid value for option 'holdtime': '2s'" in message
    assert "from 3s to 65535s" in message


def test_every_problem_is_reported_at_once(environ, capsys):
    assert run_main(["--cluster-as=x", "--holdtime=1y", "--neighbor-address=192.0.2.2"]) == 2
    err = capsys.readouterr().err
    assert "configuration errors" in err
    assert "--cluster-as: invalid value for option 'cluster_as': 'x'" in err
    assert "--holdtime: invalid value for option 'holdtime': '1y'" in err
    assert "set it with --neighbor-as" in err


def test_nat_gateway_mode_needs_its_gateway_name():
    with pytest.raises(ConfigError, match="GATEWAY_NAME"):
        settings_of([*BASE, "--nat-gw-mode"])


# -- klog --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "level"),
    [(["-v5"], logging.DEBUG), (["-v=5"], logging.DEBUG), (["--v=3"], logging.DEBUG),
     (["--v", "3"], logging.DEBUG), (["-v", "3"], logging.DEBUG), (["-v2"], logging.INFO),
     (["--v=0"], logging.INFO), (["-v=3", "-v=1"], logging.INFO), ([], None)],
)  # fmt: skip
def test_klog_verbosity(argv, level):
    inv = speaker.parse([*BASE, *argv])
    assert inv.log.level == level
    args = inv.manager_argv("/proc/self/fd/9")
    if level is None:
        assert "--default-log-level" not in args
    else:
        assert args[args.index("--default-log-level") + 1] == str(level)


@pytest.mark.parametrize("bad", [["-v=x"], ["--v=1.5"], ["-vv"], ["-v", "high"]])
def test_klog_verbosity_must_be_an_integer(bad):
    with pytest.raises(UsageError, match="klog's verbosity"):
        speaker.parse(bad)


LOG = "/var/log/kube-ovn/kube-ovn-speaker.log"


@pytest.mark.parametrize(
    ("argv", "use_stderr", "log_file"),
    [
        (["--logtostderr"], True, None),
        (["--logtostderr=true"], True, None),
        (["--alsologtostderr"], True, None),
        # klog v2: no file while logtostderr is true, its default.
        ([f"--log_file={LOG}"], True, None),
        ([f"--log-file={LOG}"], True, None),
        (["--logtostderr=false", f"--log_file={LOG}"], False, LOG),
        (["--logtostderr=false", "--alsologtostderr", f"--log-file={LOG}"], True, LOG),
        (["-logtostderr=false", "-alsologtostderr=true", f"-log_file={LOG}"], True, LOG),
        (["--logtostderr=false", "--log_dir=/var/log/x"], False,
         "/var/log/x/kube-ovn-speaker.log"),
        (["--logtostderr=false", "--log_dir=/d", f"--log_file={LOG}"], False, LOG),
    ],
)  # fmt: skip
def test_klog_destinations(argv, use_stderr, log_file):
    log = speaker.parse(argv).log
    assert (log.use_stderr, log.file) == (use_stderr, log_file)
    args = log.ryu_args()
    assert ("--use-stderr" if use_stderr else "--nouse-stderr") in args
    assert (args[args.index("--log-file") + 1] if "--log-file" in args else None) == log_file


def test_klog_without_any_file_writes_to_the_temp_dir_as_klog_does():
    log = speaker.parse(["--logtostderr=false"]).log
    assert log.use_stderr is False
    assert log.file is not None and log.file.endswith("/kube-ovn-speaker.log")


def test_a_log_file_klog_would_not_write_is_noted():
    inv = speaker.parse([f"--log_file={LOG}"])
    assert any("--log_file" in note and "--logtostderr=false" in note for note in inv.notes)


@pytest.mark.parametrize("arg", ["--log_file_max_size=200", "--skip_headers", "--add_dir_header",
                                 "--one_output", "--stderrthreshold=INFO", "--vmodule=bgp*=4",
                                 "--skip_log_headers=false", "--log_backtrace_at=x.go:1",
                                 "-one_output"])  # fmt: skip
def test_other_klog_flags_are_accepted_and_have_no_effect(arg):
    inv = speaker.parse([*BASE, arg])
    assert inv.log == speaker.LogSettings()
    assert inv.options == speaker.parse(BASE).options
    assert any(arg.lstrip("-").split("=")[0] in note for note in inv.notes)


def test_klog_booleans_are_checked():
    with pytest.raises(UsageError, match=r"--logtostderr: 'sometimes' \(must be true or false"):
        speaker.parse(["--logtostderr=sometimes"])


# -- unknown, ignored and refused flags ---------------------------------------------


@pytest.mark.parametrize("arg", ["--bogus", "--bogus=1", "--neighbor", "--verbose"])
def test_unknown_flag_exits_2_naming_it(arg, environ, capsys):
    with pytest.raises(UsageError, match=f"unknown flag: {arg.split('=')[0]}$"):
        speaker.parse([*BASE, arg])
    assert run_main([*BASE, arg]) == 2
    assert f"unknown flag: {arg.split('=')[0]}" in capsys.readouterr().err


@pytest.mark.parametrize("arg", ["-x", "-cluster-as=1", "-auth-password=" + PASSWORD])
def test_single_dash_long_flags_are_pflag_shorthands(arg, environ, capsys):
    with pytest.raises(UsageError, match="unknown shorthand flag"):
        speaker.parse([arg])
    assert run_main([arg]) == 2
    assert PASSWORD not in capsys.readouterr().err


@pytest.mark.parametrize(
    "arg",
    ["--grpc-host=127.0.0.1", "--grpc-port=50051", "--pprof-port=10667", "--enable-metrics",
     "--enable-metrics=false", "--vpc-nat-gw-namespace=kube-system", "--bfd-min-tx=300",
     "--extended-nexthop=false", "--node-route-eip-mode=false", "--enable-lb-svc-announce=false",
     "--enable-bfd=false", "--allowed-source-addresses=", "--allowed-source-ipv6-addresses=",
     "--config="],
)  # fmt: skip
def test_go_speaker_flags_without_use_are_accepted_and_noted(arg):
    inv = speaker.parse([*BASE, arg])
    assert inv.options == speaker.parse(BASE).options
    assert [note for note in inv.notes if arg.split("=")[0] in note]


@pytest.mark.parametrize(
    "arg",
    ["--extended-nexthop", "--extended-nexthop=true", "--node-route-eip-mode",
     "--enable-lb-svc-announce=1", "--enable-bfd", "--allowed-source-addresses=192.0.2.9",
     "--allowed-source-ipv6-addresses=2001:db8::9", "--config=/etc/speaker.yaml"],
)  # fmt: skip
def test_unsupported_features_are_refused(arg, environ, capsys):
    with pytest.raises(UsageError, match=r"is not supported by ryu-kovn: .* to start"):
        speaker.parse([*BASE, arg])
    assert run_main([*BASE, arg]) == 2
    assert arg.split("=")[0] in capsys.readouterr().err


def test_log_perm_maps_to_ryus_log_file_mode():
    inv = speaker.parse(["--log-perm=640", "--logtostderr=false", f"--log_file={LOG}"])
    args = inv.log.ryu_args()
    assert args[args.index("--log-file-mode") + 1] == "640"
    with pytest.raises(UsageError, match="--log-perm: '0x1A4'"):
        speaker.parse(["--log-perm=0x1A4"])


def test_help(environ, capsys):
    assert run_main(["--help"]) == 0
    text = capsys.readouterr().out
    for name in ("--cluster-as", "--nat-gw-mode", "--extended-nexthop", "--log_file", "-v"):
        assert name.replace("_", "-") in text
    assert run_main(["-h"]) == 0


# -- config files --------------------------------------------------------------------


def test_flags_override_the_config_file(tmp_path, environ, fake_exec):
    conf = tmp_path / "ryu_kovn.conf"
    conf.write_text("[DEFAULT]\ncluster_as = 1\nneighbor_as = 2\nholdtime = 30\n"
                    "neighbor_address = 192.0.2.2\nrouter_id = 192.0.2.1\n")  # fmt: skip
    inv = speaker.parse(["--config-file", str(conf), "--cluster-as=65500"])
    s = speaker.validate(inv, env={})
    assert (s.cluster_as, s.neighbor_as, s.holdtime) == (65500, 2, 30)
    assert run_main(["--config-file", str(conf), "--cluster-as=65500"]) == 0
    argv = fake_exec.argv
    assert argv is not None
    files = [argv[i + 1] for i, a in enumerate(argv) if a == "--config-file"]
    assert files[0] == str(conf) and files[1].startswith("/proc/self/fd/")


def test_missing_config_file(tmp_path, environ, capsys):
    missing = str(tmp_path / "nope.conf")
    with pytest.raises(UsageError, match="no such file"):
        speaker.validate(speaker.parse([*BASE, "--config-file", missing]), env={})
    assert run_main([*BASE, f"--config-file={missing}"]) == 2
    assert missing in capsys.readouterr().err


def test_a_broken_config_file_line_is_not_quoted(tmp_path, environ, capsys):
    conf = tmp_path / "bad.conf"
    conf.write_text(f"[DEFAULT]\nauth_password {PASSWORD}\n")
    assert run_main([*BASE, f"--config-file={conf}"]) == 2
    err = capsys.readouterr().err
    assert "cannot parse" in err and "line 2" in err
    assert PASSWORD not in err


@pytest.mark.parametrize("flag", ["--node-name", "--kubeconfig", "--neighbor-address"])
def test_a_value_cannot_smuggle_another_option_into_the_file(flag):
    with pytest.raises(UsageError, match="single line"):
        speaker.parse([f"{flag}=x\nauth_password = other"])


def test_values_reach_the_config_literally():
    inv = speaker.parse([*BASE, "--node-name=$node_name", "--kubeconfig='/k.conf'"])
    ini = inv.render_ini()
    assert 'node_name = "$$node_name"' in ini
    assert "kubeconfig = \"'/k.conf'\"" in ini


# -- the password -----------------------------------------------------------------


def _every_text(inv: Invocation) -> str:
    return "\n".join([repr(inv), str(inv), *inv.notes, *inv.manager_argv("/proc/self/fd/3"),
                      repr(inv.log), repr(dict(inv.options))])  # fmt: skip


def test_the_password_is_nowhere_but_in_the_private_file():
    inv = speaker.parse([*NAT_GW_ARGS, "--grpc-port=1", "--logtostderr=false", "--vmodule=x=1"])
    assert PASSWORD not in _every_text(inv)
    assert PASSWORD in inv.render_ini().replace("$$", "$")
    s = speaker.validate(inv, env=NAT_GW_ENV)
    assert PASSWORD not in repr(s) and PASSWORD not in speaker.config.describe(s)


@pytest.mark.parametrize(
    "argv",
    [
        [f"--auth-password={PASSWORD}", "--bogus"],
        [f"--auth-password={PASSWORD}", "--extended-nexthop"],
        ["--auth-password", PASSWORD, "stray"],
        [f"--auth-password={PASSWORD}", PASSWORD],
        [f"--auth_password={PASSWORD}", "---x"],
        [f"--auth-pasword={PASSWORD}"],
        [f"--auth-password={PASSWORD}", "-v=loud"],
        [f"--auth-password={PASSWORD}\n"],
    ],
)
def test_usage_errors_never_show_the_password(argv, environ, capsys):
    assert run_main(argv) == 2
    out = capsys.readouterr()
    assert out.err and PASSWORD not in out.out + out.err


def test_config_errors_never_show_the_password(environ, capsys):
    too_long = "p" * 81
    with pytest.raises(ConfigError) as err:
        settings_of([*BASE, f"--auth-password={too_long}", "--holdtime=1s"])
    assert too_long not in str(err.value)
    assert run_main([*BASE, f"--auth-password={too_long}", "--holdtime=1s"]) == 2
    text = capsys.readouterr().err
    assert "--auth-password: invalid value for option 'auth_password': <hidden>" in text
    assert too_long not in text


def test_started_with_a_password_the_child_argv_and_output_hold_none(environ, fake_exec, capsys):
    environ.setenv("GATEWAY_NAME", "gw1")
    argv = [*BASE, "--auth-password", PASSWORD, "--nat-gw-mode", "--grpc-port=5", "-v=4",
            "--logtostderr=true"]  # fmt: skip
    assert run_main(argv) == 0
    assert fake_exec.argv is not None and PASSWORD not in " ".join(fake_exec.argv)
    out = capsys.readouterr()
    assert PASSWORD not in out.out + out.err
    assert "--grpc-port=5 accepted and ignored" in out.err


# Any one-line password the kernel takes (80 bytes), whatever quotes, $ or
# blanks it holds, is exactly what reaches the speaker.
_PASSWORDS = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\n\r\0"), min_size=1
).filter(lambda s: len(s.encode()) <= 80)


@settings(max_examples=150, deadline=None)
@given(password=_PASSWORDS)
def test_any_password_survives_the_private_file_exactly(password: str) -> None:
    inv = speaker.parse([*BASE, f"--auth-password={password}"])
    s = speaker.validate(inv, env={})
    assert s.auth_password is not None and s.auth_password.reveal() == password
    # The password changes nothing in ryu-manager's argv.
    path = "/proc/self/fd/3"
    assert inv.manager_argv(path) == speaker.parse(BASE).manager_argv(path)


def test_an_empty_password_means_no_signature():
    assert settings_of([*BASE, "--auth-password="]).auth_password is None


# -- odds and ends --------------------------------------------------------------------


def test_double_dash_ends_the_flags():
    with pytest.raises(UsageError, match="unexpected argument '--holdtime=5s'"):
        speaker.parse([*BASE, "--", "--holdtime=5s"])


def test_the_private_file_is_unnamed_and_owner_only():
    fd = speaker._private_config("[DEFAULT]\n")
    try:
        path = speaker._fd_path(fd)
        assert os.stat(path).st_mode & 0o777 == 0o600
        assert "(deleted)" in os.readlink(path) or os.readlink(path).startswith("/memfd:")
        assert not os.get_inheritable(fd)  # only main() hands it on, just before exec
    finally:
        os.close(fd)


def test_main_closes_its_file_when_it_refuses(environ, capsys):
    before = set(os.listdir("/proc/self/fd"))
    assert run_main([*BASE, "--holdtime=1s"]) == 2
    assert set(os.listdir("/proc/self/fd")) <= before


def test_exec_failure_is_reported(environ, monkeypatch, capsys):
    def broken(argv: list[str]) -> Any:
        raise FileNotFoundError(2, "No such file or directory")

    monkeypatch.setattr(speaker, "_exec", broken)
    assert run_main(BASE) == 2
    assert "cannot run" in capsys.readouterr().err
