"""The user's exact command, ``ryu-manager ryu_kovn.app --config-file FILE``.

Run as a subprocess of the installed venv, without root, on loopback: it proves
the start-up hook, late option registration, the refusal of bad options and
the REST default of 127.0.0.1 all work in the real process.
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from kubeapi.harness import KubeAPI

BIN = Path(sys.executable).parent
GOOD = {
    "cluster_as": "65010",
    "neighbor_as": "65000",
    "neighbor_address": "127.0.0.2",
    "router_id": "192.0.2.1",
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _write(tmp_path: Path, options: dict[str, str]) -> Path:
    path = tmp_path / "ryu_kovn.conf"
    path.write_text("[DEFAULT]\n" + "".join(f"{k} = {v}\n" for k, v in options.items()))
    return path


def _command(conf: Path, port: int) -> list[str]:
    return [str(BIN / "ryu-manager"), "ryu_kovn.app", "--config-file", str(conf),
            "--wsapi-port", str(port)]  # fmt: skip


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KubeAPI]:
    with KubeAPI(workdir=tmp_path_factory.mktemp("kubeapi")) as api:
        yield api


@pytest.fixture
def running(tmp_path: Path, cluster: KubeAPI) -> Iterator[tuple[subprocess.Popen[str], int]]:
    port = _free_port()
    # An unused high port for the peer: the speaker's connects are refused on loopback.
    conf = _write(tmp_path, {**GOOD, "neighbor_port": str(_free_port()),
                             "kubeconfig": str(cluster.kubeconfig_path)})  # fmt: skip
    proc = subprocess.Popen(_command(conf, port), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)  # fmt: skip
    try:
        yield proc, port
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _get(port: int, path: str) -> object:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as resp:
        return json.load(resp)


def _get_status(port: int, path: str) -> int:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as resp:
            return resp.status
    except urllib.error.HTTPError as err:
        return err.code


def test_the_real_command_starts_and_serves_rest_on_loopback(running):
    proc, port = running
    deadline = time.monotonic() + 30
    while True:
        assert proc.poll() is None, proc.stdout.read()
        try:
            health = _get(port, "/healthz")
            break
        except OSError:
            assert time.monotonic() < deadline, "no /healthz within 30 s"
            time.sleep(0.1)
    assert health == {"status": "ok"}
    deadline = time.monotonic() + 30
    while _get_status(port, "/readyz") != 200:  # every (empty) list synced
        assert time.monotonic() < deadline, "never ready"
        time.sleep(0.1)
    (neighbor,) = _get(port, "/bgp/neighbors")
    assert neighbor["address"] == "127.0.0.2"
    assert neighbor["state"] != "established"
    # Default REST host is 127.0.0.1: not reachable on another local address.
    with pytest.raises(OSError):
        urllib.request.urlopen(f"http://127.0.0.3:{port}/healthz", timeout=1)


@pytest.mark.parametrize(
    ("option", "value", "words"),
    [
        ("holdtime", "2s", ["'holdtime'", "'2s'", "3s to 65535s"]),
        ("cluster_as", "0", ["'cluster_as'", "'0'", "1 to 4294967295"]),
        ("neighbor_address", "2001:db8::1", ["'neighbor_address'", "2001:db8::1", "IPv4"]),
        ("ebgp_multihop", "256", ["'ebgp_multihop'", "'256'", "1 to 255"]),
    ],
)
def test_a_bad_option_stops_start_up_with_a_clear_message(tmp_path, option, value, words):
    conf = _write(tmp_path, {**GOOD, option: value})
    out = subprocess.run(_command(conf, _free_port()), capture_output=True, text=True, timeout=60)
    assert out.returncode != 0
    text = out.stdout + out.stderr
    assert "refusing to start" in text
    for word in words:
        assert word in text, f"{word!r} missing from:\n{text}"
    assert "Traceback" not in text
    assert "neighbor 127.0.0.2 added" not in text  # no session was set up


def test_no_kubernetes_credentials_is_refused(tmp_path):
    conf = _write(tmp_path, GOOD)  # no kubeconfig, and this is not a pod
    out = subprocess.run(_command(conf, _free_port()), capture_output=True, text=True, timeout=60,
                         env={"PATH": "/usr/bin:/bin"})  # fmt: skip
    assert out.returncode != 0
    text = out.stdout + out.stderr
    assert "refusing to start" in text and "kubeconfig" in text
    assert "Traceback" not in text


def test_no_router_id_anywhere_is_refused(tmp_path):
    options = {k: v for k, v in GOOD.items() if k != "router_id"}
    conf = _write(tmp_path, options)
    out = subprocess.run(_command(conf, _free_port()), capture_output=True, text=True, timeout=60,
                         env={"PATH": "/usr/bin:/bin"})  # fmt: skip
    assert out.returncode != 0
    assert "router_id" in out.stdout + out.stderr


def _wait_ready(proc: subprocess.Popen[str], port: int) -> None:
    deadline = time.monotonic() + 30
    while True:
        assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
        try:
            if _get_status(port, "/readyz") == 200:
                return
        except OSError:
            pass
        assert time.monotonic() < deadline, "never ready"
        time.sleep(0.1)


def _metrics(port: int) -> dict[str, float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as resp:
        assert resp.headers["Content-Type"].startswith("text/plain")
        text = resp.read().decode()
    values = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            values[name] = float(value)
    return values


def test_metrics_move_with_the_cluster(running, cluster):
    proc, port = running
    _wait_ready(proc, port)
    before = _metrics(port)
    assert before['ryukovn_bgp_session_state{peer="127.0.0.2",state="established"}'] == 0
    assert before['ryukovn_watch_synced{resource="pods"}'] == 1
    cluster.create({
        "apiVersion": "kubeovn.io/v1", "kind": "Subnet",
        "metadata": {"name": "metrics-net", "annotations": {"ovn.kubernetes.io/bgp": "true"}},
        "spec": {"cidrBlock": "10.99.0.0/16"},
        "status": {"conditions": [{"type": "Ready", "status": "True"}]},
    })  # fmt: skip
    deadline = time.monotonic() + 10
    while _metrics(port)['ryukovn_prefixes_announced{family="ipv4"}'] < 1:
        assert time.monotonic() < deadline, "the subnet's CIDR was never counted"
        time.sleep(0.05)
    after = _metrics(port)
    assert after['ryukovn_watch_events_total{resource="subnets"}'] > before.get(
        'ryukovn_watch_events_total{resource="subnets"}', 0)
    assert after["ryukovn_reconcile_seconds_count"] > before["ryukovn_reconcile_seconds_count"]
    assert after["ryukovn_prefixes_wanted"] >= 1
    cluster.delete("Subnet", "metrics-net")


def test_sigterm_stops_cleanly_with_exit_status_0(running):
    proc, port = running
    _wait_ready(proc, port)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=15) == 0
    text = proc.stdout.read()
    assert "SIGTERM" in text
    assert "Traceback" not in text
