"""One test per configuration rule of shared/SPEC.md, plus the plumbing.

Each test writes a real INI file and parses it with a fresh ConfigOpts, as
ryu-manager would, so what is tested is what an operator's file does.
"""

from __future__ import annotations

import copy
import json
import os
import pickle
import subprocess
import sys
import textwrap
from collections.abc import Mapping
from pathlib import Path

import pytest
from oslo_config import cfg, generator

from ryu_kovn import config
from ryu_kovn.config import ConfigError, ConfigErrors, Secret, Settings

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "etc" / "ryu_kovn" / "ryu_kovn.conf"

# The least a node needs; each test changes what it is about.
BASE: dict[str, str] = {
    "cluster_as": "65000",
    "neighbor_as": "65001",
    "neighbor_address": "192.0.2.1",
    "router_id": "192.0.2.10",
}

PASSWORD = "hunter2-b5a1c9e0-unique"


def parse(tmp_path: Path, options: Mapping[str, str | None]) -> cfg.ConfigOpts:
    """A ConfigOpts parsed from a file holding BASE updated by ``options``.

    A None value drops the option from the file.
    """
    merged = {**BASE, **options}
    lines = [f"{key} = {value}" for key, value in merged.items() if value is not None]
    path = tmp_path / "ryu_kovn.conf"
    path.write_text("[DEFAULT]\n" + "\n".join(lines) + "\n")
    conf = cfg.ConfigOpts()
    conf(args=["--config-file", str(path)], default_config_files=[], default_config_dirs=[])
    return conf


def load(
    tmp_path: Path,
    options: Mapping[str, str | None] | None = None,
    env: Mapping[str, str] | None = None,
) -> Settings:
    """Validated settings; the process environment never leaks in."""
    return config.validate(parse(tmp_path, options or {}), env=env or {})


def refuse(
    tmp_path: Path,
    options: Mapping[str, str | None] | None = None,
    env: Mapping[str, str] | None = None,
) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, options, env)
    return caught.value


def only_error(error: ConfigError) -> ConfigError:
    assert not isinstance(error, ConfigErrors), str(error)
    return error


# -- the happy path ------------------------------------------------------------


def test_minimal_config_gets_the_spec_defaults(tmp_path: Path) -> None:
    settings = load(tmp_path)
    assert settings == Settings(
        cluster_as=65000,
        neighbor_as=65001,
        neighbors_v4=("192.0.2.1",),
        router_id="192.0.2.10",
        holdtime=90,
        graceful_restart=False,
        graceful_restart_time=90,
        graceful_restart_deferral_time=360,
        passive=False,
        ebgp_multihop=1,
        announce_cluster_ip=False,
        nat_gw_mode=False,
        bgp_listen_port=179,
        neighbor_port=179,
    )
    assert settings.auth_password is None
    assert settings.kubeconfig is None


def test_every_option_read_from_the_file(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text("apiVersion: v1\n")
    settings = load(
        tmp_path,
        {
            "cluster_as": "4294386121",
            "neighbor_as": "4294967295",
            "neighbor_address": "192.0.2.1,192.0.2.2",
            "neighbor_ipv6_address": "2001:db8::1,2001:db8::2",
            "node_ips": "198.51.100.5,2001:db8:1::5",
            "auth_password": PASSWORD,
            "holdtime": "1m0s",
            "graceful_restart": "true",
            "graceful_restart_time": "2m",
            "graceful_restart_deferral_time": "10m",
            "passivemode": "yes",
            "ebgp_multihop": "2",
            "announce_cluster_ip": "on",
            "nat_gw_mode": "false",
            "node_name": "Worker-1",
            "kubeconfig": str(kubeconfig),
            "bgp_listen_port": "10179",
            "neighbor_port": "20179",
        },
        env={"GATEWAY_NAME": "gw1", "POD_IPS": "10.16.0.5"},
    )
    assert settings == Settings(
        cluster_as=4294386121,
        neighbor_as=4294967295,
        neighbors_v4=("192.0.2.1", "192.0.2.2"),
        neighbors_v6=("2001:db8::1", "2001:db8::2"),
        router_id="192.0.2.10",
        node_ips=("198.51.100.5", "2001:db8:1::5"),
        auth_password=Secret(PASSWORD),
        holdtime=60,
        graceful_restart=True,
        graceful_restart_time=120,
        graceful_restart_deferral_time=600,
        passive=True,
        ebgp_multihop=2,
        announce_cluster_ip=True,
        nat_gw_mode=False,
        node_name="worker-1",
        kubeconfig=str(kubeconfig),
        gateway_name="gw1",
        pod_ips=("10.16.0.5",),
        bgp_listen_port=10179,
        neighbor_port=20179,
    )
    assert settings.neighbors == settings.neighbors_v4 + settings.neighbors_v6


def test_options_registered_after_the_file_was_parsed_still_read_it(tmp_path: Path) -> None:
    """ryu-manager parses --config-file before it imports ryu_kovn.app."""
    path = tmp_path / "late.conf"
    path.write_text(
        "[DEFAULT]\ncluster_as = 64512\nneighbor_as = 64513\nneighbor_address = 192.0.2.1\n"
        "holdtime = 30s\n"
    )
    conf = cfg.ConfigOpts()
    conf(args=["--config-file", str(path)], default_config_files=[], default_config_dirs=[])
    assert "cluster_as" not in conf
    config.register_opts(conf)
    assert conf.cluster_as == 64512
    settings = config.validate(conf, env={"POD_IP": "192.0.2.7", "NODE_NAME": "n1"})
    assert (settings.cluster_as, settings.neighbor_as, settings.holdtime) == (64512, 64513, 30)


def test_register_opts_is_idempotent(tmp_path: Path) -> None:
    conf = parse(tmp_path, {})
    config.register_opts(conf)
    config.register_opts(conf)
    # validate() registers once more, as app.py and the CLI both may have.
    assert config.validate(conf, env={}).cluster_as == 65000


def test_default_conf_is_the_one_ryu_manager_parses(tmp_path: Path) -> None:
    """ryu-manager parses ryu.cfg.CONF, not oslo_config.cfg.CONF.

    Run in a child process: importing Ryu's wsgi module registers options on
    a process-wide object.
    """
    path = tmp_path / "node.conf"
    path.write_text(
        "[DEFAULT]\ncluster_as = 64600\nneighbor_as = 64601\nneighbor_address = 192.0.2.1\n"
        "router_id = 192.0.2.9\n"
    )
    script = textwrap.dedent(
        f"""
        from ryu.cmd import manager  # registers Ryu's options, wsapi_* included
        from ryu import cfg
        cfg.CONF(args=["--config-file", {str(path)!r}], project="ryu")
        from ryu_kovn import config
        config.register_opts()
        config.apply_ryu_defaults()
        print(config.validate(env={{}}).cluster_as, cfg.CONF.wsapi_host)
        """
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
    done = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["64600", "127.0.0.1"]


# -- AS numbers ----------------------------------------------------------------


@pytest.mark.parametrize("option", ["cluster_as", "neighbor_as"])
@pytest.mark.parametrize("value", ["0", "4294967296", "-1", "abc", "65000.100", "1e3"])
def test_as_out_of_range_or_not_a_number_is_refused(
    tmp_path: Path, option: str, value: str
) -> None:
    error = only_error(refuse(tmp_path, {option: value}))
    assert (error.option, error.value) == (option, value)
    assert str(error) == (
        f"invalid value for option '{option}': '{value}' (must be an integer from 1 to 4294967295)"
    )


@pytest.mark.parametrize(
    ("option", "what"), [("cluster_as", "the local AS"), ("neighbor_as", "the peers' AS")]
)
def test_missing_as_is_refused(tmp_path: Path, option: str, what: str) -> None:
    error = only_error(refuse(tmp_path, {option: None}))
    assert error.option == option
    assert str(error) == f"option '{option}' is required ({what}, an integer from 1 to 4294967295)"


@pytest.mark.parametrize("value", ["1", "4294967295"])
def test_as_range_ends_are_accepted(tmp_path: Path, value: str) -> None:
    assert load(tmp_path, {"cluster_as": value, "neighbor_as": value}).cluster_as == int(value)


# -- neighbors -----------------------------------------------------------------


def test_ipv6_address_in_neighbor_address_is_refused(tmp_path: Path) -> None:
    error = only_error(refuse(tmp_path, {"neighbor_address": "192.0.2.1,2001:db8::1"}))
    assert (error.option, error.value) == ("neighbor_address", "2001:db8::1")
    assert "IPv6 peers go in neighbor_ipv6_address" in str(error)


def test_ipv4_address_in_neighbor_ipv6_address_is_refused(tmp_path: Path) -> None:
    error = only_error(
        refuse(tmp_path, {"neighbor_address": None, "neighbor_ipv6_address": "192.0.2.1"})
    )
    assert (error.option, error.value) == ("neighbor_ipv6_address", "192.0.2.1")
    assert "IPv4 peers go in neighbor_address" in str(error)


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("neighbor_address", "192.0.2.256"),
        ("neighbor_address", "router1"),
        ("neighbor_address", "192.0.2"),
        ("neighbor_address", "192.0.2.01"),
        ("neighbor_address", "0.0.0.0"),
        ("neighbor_address", "224.0.0.5"),
        ("neighbor_address", "192.0.2.0/24"),
        ("neighbor_ipv6_address", "2001:db8::g"),
        ("neighbor_ipv6_address", "::"),
        ("neighbor_ipv6_address", "ff02::5"),
        ("neighbor_ipv6_address", "fe80::1%eth0"),
    ],
)
def test_garbage_neighbor_is_refused(tmp_path: Path, option: str, value: str) -> None:
    error = only_error(refuse(tmp_path, {"neighbor_address": None, option: value}))
    assert (error.option, error.value) == (option, value)


def test_neighbors_are_normalised_and_deduplicated_in_order(tmp_path: Path) -> None:
    settings = load(
        tmp_path,
        {
            "neighbor_address": " 192.0.2.2 , 192.0.2.1,192.0.2.2,",
            "neighbor_ipv6_address": "2001:DB8:0:0::1,2001:db8::1,2001:db8::0:2",
        },
    )
    assert settings.neighbors_v4 == ("192.0.2.2", "192.0.2.1")
    assert settings.neighbors_v6 == ("2001:db8::1", "2001:db8::2")


def test_ipv6_neighbors_alone_are_enough(tmp_path: Path) -> None:
    settings = load(tmp_path, {"neighbor_address": None, "neighbor_ipv6_address": "2001:db8::1"})
    assert (settings.neighbors_v4, settings.neighbors_v6) == ((), ("2001:db8::1",))


@pytest.mark.parametrize("empty", [None, "", ","])
def test_no_neighbor_at_all_is_refused_naming_both_options(
    tmp_path: Path, empty: str | None
) -> None:
    error = only_error(
        refuse(tmp_path, {"neighbor_address": empty, "neighbor_ipv6_address": empty})
    )
    assert "'neighbor_address'" in str(error) and "'neighbor_ipv6_address'" in str(error)
    assert "required" in str(error)


# -- durations -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("90", 90),
        ("1m", 60),
        ("1m0s", 60),
        ("1m30s", 90),
        ("1h2m3s", 3723),
        ("3s", 3),
        ("65535s", 65535),
        ("18h12m15s", 65535),
        ("90.9s", 90),  # truncated to whole seconds, as Go's speaker does
        ("", 90),  # an emptied option is its default
    ],
)
def test_holdtime_accepts_go_durations_and_plain_seconds(
    tmp_path: Path, value: str, seconds: int
) -> None:
    assert load(tmp_path, {"holdtime": value}).holdtime == seconds


@pytest.mark.parametrize(
    "value",
    ["2s", "2.9s", "70000s", "65535.5s", "65536s", "0", "-90s", "90x", "1m-5s", "1 m", "abc", "s"],
)
def test_holdtime_out_of_range_or_malformed_is_refused(tmp_path: Path, value: str) -> None:
    error = only_error(refuse(tmp_path, {"holdtime": value}))
    assert (error.option, error.value) == ("holdtime", value)
    assert str(error) == (
        f"invalid value for option 'holdtime': {value!r} "
        "(must be a duration from 3s to 65535s, e.g. 90s or 1m30s)"
    )


@pytest.mark.parametrize(
    ("option", "value", "seconds"),
    [
        ("graceful_restart_time", "1s", 1),
        ("graceful_restart_time", "4095s", 4095),
        ("graceful_restart_time", "1h8m15s", 4095),
        ("graceful_restart_deferral_time", "1s", 1),
        ("graceful_restart_deferral_time", "18h", 64800),
        ("graceful_restart_deferral_time", "64800", 64800),
    ],
)
def test_graceful_restart_range_ends_are_accepted(
    tmp_path: Path, option: str, value: str, seconds: int
) -> None:
    assert getattr(load(tmp_path, {option: value}), option) == seconds


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("graceful_restart_time", "4096s"),
        ("graceful_restart_time", "0s"),
        ("graceful_restart_time", "500ms"),
        ("graceful_restart_time", "1h8m16s"),
        ("graceful_restart_deferral_time", "18h1s"),
        ("graceful_restart_deferral_time", "0s"),
        ("graceful_restart_deferral_time", "1d"),
    ],
)
def test_graceful_restart_out_of_range_is_refused(tmp_path: Path, option: str, value: str) -> None:
    error = only_error(refuse(tmp_path, {option: value}))
    assert (error.option, error.value) == (option, value)


# -- integers and booleans -------------------------------------------------------


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("ebgp_multihop", "0"),
        ("ebgp_multihop", "256"),
        ("ebgp_multihop", "two"),
        ("bgp_listen_port", "0"),
        ("bgp_listen_port", "65536"),
        ("neighbor_port", "0"),
        ("neighbor_port", "bgp"),
    ],
)
def test_integer_out_of_range_is_refused(tmp_path: Path, option: str, value: str) -> None:
    error = only_error(refuse(tmp_path, {option: value}))
    assert (error.option, error.value) == (option, value)
    assert f"'{option}': '{value}' (must be an integer from 1 to " in str(error)


@pytest.mark.parametrize(("value", "ttl"), [("1", 1), ("255", 255), ("", 1)])
def test_ebgp_multihop_range(tmp_path: Path, value: str, ttl: int) -> None:
    assert load(tmp_path, {"ebgp_multihop": value}).ebgp_multihop == ttl


@pytest.mark.parametrize(
    "option", ["graceful_restart", "passivemode", "announce_cluster_ip", "nat_gw_mode"]
)
def test_bool_garbage_is_refused_with_its_value(tmp_path: Path, option: str) -> None:
    error = only_error(refuse(tmp_path, {option: "maybe"}))
    assert (error.option, error.value) == (option, "maybe")
    assert str(error).startswith(f"invalid value for option '{option}': 'maybe' (must be true or")


# -- router ID -------------------------------------------------------------------


def test_no_router_id_anywhere_is_refused(tmp_path: Path) -> None:
    error = only_error(refuse(tmp_path, {"router_id": None}, env={}))
    assert error.option == "router_id"
    assert "POD_IPS" in str(error) and "POD_IP" in str(error) and "required" in str(error)


@pytest.mark.parametrize(
    ("env", "router_id", "pod_ips"),
    [
        ({"POD_IPS": "fd00:10:16::5,10.16.0.5"}, "10.16.0.5", ("fd00:10:16::5", "10.16.0.5")),
        ({"POD_IPS": "10.16.0.5,fd00:10:16::5"}, "10.16.0.5", ("10.16.0.5", "fd00:10:16::5")),
        ({"POD_IP": "10.16.0.7"}, "10.16.0.7", ("10.16.0.7",)),
        ({"POD_IPS": "10.16.0.5", "POD_IP": "10.16.0.7"}, "10.16.0.5", ("10.16.0.5",)),
        ({"POD_IPS": "fd00::5", "POD_IP": "10.16.0.7"}, "10.16.0.7", ("fd00::5",)),
    ],
)
def test_router_id_falls_back_on_pod_ips_then_pod_ip(
    tmp_path: Path, env: dict[str, str], router_id: str, pod_ips: tuple[str, ...]
) -> None:
    settings = load(tmp_path, {"router_id": None}, env=env)
    assert (settings.router_id, settings.pod_ips) == (router_id, pod_ips)


@pytest.mark.parametrize(
    "env", [{"POD_IP": "fd00::5"}, {"POD_IPS": "fd00::5"}, {"POD_IP": "0.0.0.0"}]
)
def test_ipv6_only_pod_has_no_router_id(tmp_path: Path, env: dict[str, str]) -> None:
    assert only_error(refuse(tmp_path, {"router_id": None}, env=env)).option == "router_id"


def test_router_id_option_wins_over_env(tmp_path: Path) -> None:
    assert load(tmp_path, env={"POD_IPS": "10.16.0.5"}).router_id == "192.0.2.10"


@pytest.mark.parametrize("value", ["0.0.0.0", "2001:db8::1", "192.0.2", "192.0.2.300", "node1"])
def test_bad_router_id_is_refused(tmp_path: Path, value: str) -> None:
    error = only_error(refuse(tmp_path, {"router_id": value}, env={"POD_IP": "10.16.0.7"}))
    assert (error.option, error.value) == ("router_id", value)
    assert "non-zero IPv4 address" in str(error)


def test_garbage_in_pod_ips_names_the_environment_variable(tmp_path: Path) -> None:
    error = only_error(refuse(tmp_path, env={"POD_IPS": "10.16.0.5,bogus"}))
    assert (error.option, error.value) == ("POD_IPS", "bogus")
    assert str(error).startswith("invalid value for environment variable 'POD_IPS': 'bogus'")


# -- node identity -----------------------------------------------------------------


def test_node_name_comes_lower_cased_from_env(tmp_path: Path) -> None:
    assert load(tmp_path, env={"NODE_NAME": "Worker-A.Example"}).node_name == "worker-a.example"


def test_node_name_option_wins_over_env_and_is_lower_cased(tmp_path: Path) -> None:
    settings = load(tmp_path, {"node_name": "NodeB"}, env={"NODE_NAME": "nodea"})
    assert settings.node_name == "nodeb"


def test_nat_gw_mode_needs_gateway_name(tmp_path: Path) -> None:
    error = only_error(refuse(tmp_path, {"nat_gw_mode": "true"}))
    assert error.option == "GATEWAY_NAME"
    settings = load(tmp_path, {"nat_gw_mode": "true"}, env={"GATEWAY_NAME": "gw1"})
    assert (settings.nat_gw_mode, settings.gateway_name) == (True, "gw1")


@pytest.mark.parametrize(
    "value", ["192.0.2.5,192.0.2.6", "2001:db8::5,2001:db8::6", "192.0.2.5,nope", "fe80::1%eth0"]
)
def test_bad_node_ips_are_refused(tmp_path: Path, value: str) -> None:
    assert only_error(refuse(tmp_path, {"node_ips": value})).option == "node_ips"


def test_missing_kubeconfig_file_is_refused(tmp_path: Path) -> None:
    missing = str(tmp_path / "nowhere")
    error = only_error(refuse(tmp_path, {"kubeconfig": missing}))
    assert (error.option, error.value) == ("kubeconfig", missing)


# -- the password ------------------------------------------------------------------


def test_password_never_appears_in_settings_repr(tmp_path: Path) -> None:
    settings = load(tmp_path, {"auth_password": PASSWORD})
    assert settings.auth_password is not None
    assert settings.auth_password.reveal() == PASSWORD
    for shown in (repr(settings), str(settings), f"{settings}", f"{settings.auth_password:>40}"):
        assert PASSWORD not in shown
    assert "auth_password=***" in repr(settings)


def test_password_never_appears_in_error_messages(tmp_path: Path) -> None:
    too_long = PASSWORD * 5
    error = refuse(tmp_path, {"auth_password": too_long, "holdtime": "1s"})
    assert isinstance(error, ConfigErrors)
    assert "invalid value for option 'auth_password': <hidden> (must be at most 80 bytes" in str(
        error
    )
    for shown in (str(error), repr(error), repr(error.args), *map(repr, vars(error).values())):
        assert PASSWORD not in shown
    assert all(e.value is None for e in error.errors if e.option == "auth_password")


def test_password_with_a_dollar_is_hidden_when_oslo_cannot_substitute_it(tmp_path: Path) -> None:
    error = only_error(refuse(tmp_path, {"auth_password": "pw$" + PASSWORD.replace("-", "_")}))
    assert error.option == "auth_password"
    assert PASSWORD.replace("-", "_") not in str(error)
    assert "$$" in str(error)


def test_doubled_dollar_is_a_literal_dollar(tmp_path: Path) -> None:
    settings = load(tmp_path, {"auth_password": "pa$$word"})
    assert settings.auth_password == Secret("pa$word")


def test_secret_does_not_leak_through_copies_pickles_or_json() -> None:
    secret = Secret(PASSWORD)
    assert copy.deepcopy(secret) is secret
    with pytest.raises(TypeError):
        pickle.dumps(secret)
    with pytest.raises(TypeError):
        json.dumps({"password": secret})
    assert secret == Secret(PASSWORD)
    assert secret != Secret("other")
    assert secret != PASSWORD  # a Secret never equals the clear text
    assert len({secret, Secret(PASSWORD)}) == 1


def test_describe_is_one_line_without_the_password(tmp_path: Path) -> None:
    line = config.describe(load(tmp_path, {"auth_password": PASSWORD, "holdtime": "90"}))
    assert PASSWORD not in line and "\n" not in line
    assert "holdtime 1m30s" in line and "md5 on" in line


def test_settings_are_frozen(tmp_path: Path) -> None:
    settings = load(tmp_path)
    with pytest.raises(AttributeError):
        settings.holdtime = 3  # type: ignore[misc]


# -- reporting ---------------------------------------------------------------------


def test_several_errors_are_reported_together_one_per_line(tmp_path: Path) -> None:
    error = refuse(
        tmp_path,
        {
            "cluster_as": "0",
            "neighbor_as": None,
            "neighbor_address": "2001:db8::1",
            "holdtime": "2s",
            "ebgp_multihop": "256",
            "graceful_restart": "maybe",
            "router_id": "0.0.0.0",
        },
    )
    assert isinstance(error, ConfigErrors)
    lines = str(error).splitlines()
    assert lines[0] == "7 configuration errors:"
    assert [e.option for e in error.errors] == [
        "cluster_as",
        "neighbor_as",
        "neighbor_address",
        "router_id",
        "holdtime",
        "graceful_restart",
        "ebgp_multihop",
    ]
    assert lines[1:] == [f"  {e}" for e in error.errors]


def test_value_from_an_os_environment_source_is_reported_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # oslo.config also reads OS_<GROUP>__<OPTION>; its errors must look the same.
    monkeypatch.setenv("OS_DEFAULT__EBGP_MULTIHOP", "300")
    error = only_error(refuse(tmp_path))
    assert (error.option, error.value) == ("ebgp_multihop", "300")


# -- Ryu's REST API ----------------------------------------------------------------


def test_rest_api_listens_on_loopback_by_default(tmp_path: Path) -> None:
    conf = parse(tmp_path, {})
    config.apply_ryu_defaults(conf)
    assert conf.wsapi_host == "127.0.0.1"
    assert conf.wsapi_port == 8080


def test_rest_api_host_from_the_file_still_wins(tmp_path: Path) -> None:
    conf = parse(tmp_path, {"wsapi_host": "0.0.0.0"})
    config.apply_ryu_defaults(conf)
    assert conf.wsapi_host == "0.0.0.0"


# -- the options themselves and the sample file --------------------------------------


def test_list_opts_is_every_option_in_default() -> None:
    [(group, opts)] = config.list_opts()
    assert group is None
    assert opts == config.OPTS
    assert {o.dest for o in opts} == set(BASE) | {
        "neighbor_ipv6_address",
        "node_ips",
        "auth_password",
        "holdtime",
        "graceful_restart",
        "graceful_restart_time",
        "graceful_restart_deferral_time",
        "passivemode",
        "ebgp_multihop",
        "announce_cluster_ip",
        "min_prefix_length_v4",
        "min_prefix_length_v6",
        "allow_special_prefixes",
        "nat_gw_mode",
        "node_name",
        "kubeconfig",
        "bgp_listen_port",
        "neighbor_port",
    }


@pytest.mark.parametrize("opt", config.OPTS, ids=lambda o: o.dest)
def test_every_help_text_states_default_and_rule(opt: cfg.Opt) -> None:
    assert " Must be " in opt.help and " Default: " in opt.help


def test_only_the_password_is_secret() -> None:
    assert [o.dest for o in config.OPTS if o.secret] == ["auth_password"]


def test_sample_config_is_what_the_generator_writes(tmp_path: Path) -> None:
    fresh = tmp_path / "ryu_kovn.conf"
    generator.main(["--namespace", "ryu_kovn", "--output-file", str(fresh)])
    assert fresh.read_text() == SAMPLE.read_text(), (
        f"{SAMPLE.relative_to(REPO)} is stale; regenerate it with: "
        ".venv/bin/pip install -q --no-build-isolation --no-deps . && "
        ".venv/bin/oslo-config-generator --namespace ryu_kovn "
        "--output-file etc/ryu_kovn/ryu_kovn.conf"
    )


def test_sample_config_parses_to_the_defaults(tmp_path: Path) -> None:
    """Uncommenting nothing must give a file that only lacks the required options."""
    conf = cfg.ConfigOpts()
    conf(args=["--config-file", str(SAMPLE)], default_config_files=[], default_config_dirs=[])
    error = refuse_conf(conf)
    assert {e.option for e in error.errors} == {
        "cluster_as",
        "neighbor_as",
        "neighbor_address",
        "router_id",
    }


def refuse_conf(conf: cfg.ConfigOpts) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        config.validate(conf, env={})
    return caught.value



@pytest.mark.parametrize(
    ("option", "value", "rule"),
    [
        ("min_prefix_length_v4", "33", "0 to 32"),
        ("min_prefix_length_v4", "-1", "0 to 32"),
        ("min_prefix_length_v6", "129", "0 to 128"),
        ("allow_special_prefixes", "sometimes", "true or false"),
    ],
)
def test_safety_options_are_checked(tmp_path: Path, option: str, value: str, rule: str) -> None:
    error = only_error(refuse(tmp_path, {option: value}))
    assert f"'{option}'" in str(error) and rule in str(error)


def test_safety_defaults_and_overrides(tmp_path: Path) -> None:
    defaults = load(tmp_path)
    assert (defaults.min_prefix_length_v4, defaults.min_prefix_length_v6) == (8, 16)
    assert defaults.allow_special_prefixes is False
    chosen = load(tmp_path, {"min_prefix_length_v4": "16", "allow_special_prefixes": "true"})
    assert chosen.min_prefix_length_v4 == 16 and chosen.allow_special_prefixes is True
