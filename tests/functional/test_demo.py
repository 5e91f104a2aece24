"""``make demo`` runs green and tells its story from the router's side.

Three ways in: the script with gobgpd as the router, the script with ExaBGP as
the router, and the README's front door itself, ``make demo`` run by an
ordinary user in a fresh copy of the working tree with a venv made from
Debian's Python (slow: it installs from PyPI).  The ExaBGP API helper's
parsing is checked on its own first, on ExaBGP's JSON as written by 4.x and 5.x.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "demo" / "demo.py"
NOBODY = 65534
DEBIAN_PYTHON = Path("/usr/bin/python3")
PASS_ON = {"http_proxy", "https_proxy", "no_proxy", "ssl_cert_file", "requests_ca_bundle"}

sys.path.insert(0, str(ROOT / "demo"))
import exabgp_rib  # noqa: E402

# -- the ExaBGP API helper ----------------------------------------------------------------------


def _update(announce: dict[str, object] | None = None, withdraw: list[object] | None = None,
            as_path: object = None) -> dict[str, object]:  # fmt: skip
    update: dict[str, object] = {"attribute": {"origin": "igp", "as-path": as_path or [65010]}}
    if announce is not None:
        update["announce"] = {"ipv4 unicast": announce}
    if withdraw is not None:
        update["withdraw"] = {"ipv4 unicast": withdraw}
    return {"type": "update", "neighbor": {"direction": "receive", "message": {"update": update}}}


def test_exabgp_helper_builds_the_table_from_announces_and_withdraws(tmp_path: Path) -> None:
    table = exabgp_rib.Table(tmp_path / "rib.json")
    state = {"type": "state", "neighbor": {"address": {"peer": "127.0.0.1"}, "state": "up"}}
    assert table.handle(state)
    five = {"0": {"element": "as-sequence", "value": [65010]},
            "1": {"element": "as-set", "value": [64512, 64513]}}  # fmt: skip
    table.handle(_update({"192.0.2.10": [{"nlri": "10.16.0.0/16"}, {"nlri": "10.70.0.10/32"}]},
                         as_path=five))  # fmt: skip
    table.handle(_update({"192.0.2.10": ["10.96.12.7/32"]}))  # compact encoding, 4.x as-path
    table.handle(_update(withdraw=[{"nlri": "10.70.0.10/32"}]))
    assert not table.handle({"type": "update", "neighbor": {"message": {"eor": {}}}})
    table.save()
    doc = json.loads((tmp_path / "rib.json").read_text())
    assert doc["state"] == "up" and doc["peer"] == "127.0.0.1"
    assert set(doc["routes"]) == {"10.16.0.0/16", "10.96.12.7/32"}
    assert doc["routes"]["10.16.0.0/16"]["as-path"] == [65010, [64512, 64513]]
    assert doc["routes"]["10.96.12.7/32"]["next-hop"] == "192.0.2.10"
    table.handle({"type": "state", "neighbor": {"state": "down"}})
    assert table.routes == {}  # the peer's routes go with the session


# -- the story ----------------------------------------------------------------------------------


def _router_table(text: str, heading: str) -> str:
    """The router's table printed right after *heading*."""
    return text.split(heading, 1)[1].split("\n=== ", 1)[0]


def check_story(text: str, router: str) -> None:
    """What a newcomer must see, whichever way the demo was started."""
    assert f"Starting the upstream router: {router}, AS 65000, on 127.0.0.2:" in text
    first = _router_table(text, "The scene is announced")
    arrived = _router_table(text, "10.20.0.13/32 arrived")
    left = _router_table(text, "10.16.0.0/16 left")
    assert "10.16.0.0/16" in first and "10.20.0.13/32" not in first
    assert "10.20.0.13/32" in arrived and "10.16.0.0/16" in arrived
    assert "10.16.0.0/16" not in left
    assert "10.16.0.12/32" in left  # the pod's own annotation outlives the subnet's
    assert "10.70.0.9/32" not in text  # another node's Local pod
    assert "10.16.0.50/32" not in text  # the typo pod
    assert "192.0.2.10" in first and "127.0.0.1 " not in first  # node_ips replaced the pod IP
    assert re.search(r"10\.16\.0\.12/32\s+192\.0\.2\.10\s+65010\s", left)
    adj_out = text.split("adj-out  (what the speaker sent)", 1)[1].split("\n=== ", 1)[0]
    assert "10.20.0.13/32" in adj_out and "10.16.0.0/16" not in adj_out
    why = text.split("ryu-kovn-ctl announcements", 1)[1].split("\n=== ", 1)[0]
    assert "Pod/shop/cache-2" in why and "local" in why and "Service/shop/api" in why
    assert "BGP neighbor is 127.0.0.2, remote AS 65000, local AS 65010" in text
    assert "skipped: Pod/shop/typo" in text
    done = re.search(r"=== Done in ([0-9.]+) s", text)
    assert done and float(done.group(1)) < 60, "the demo must finish within 60 s"
    assert "\nAll stopped, temporary files removed.\n" in text


def run_demo(router: str) -> str:
    env = dict(os.environ, RYU_KOVN_DEMO_ROUTER=router)
    out = subprocess.run([sys.executable, str(DEMO)], capture_output=True, text=True,
                         timeout=90, env=env)  # fmt: skip
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stderr == "", out.stderr  # no log noise on the terminal
    return out.stdout


@pytest.mark.skipif(shutil.which("gobgpd") is None or shutil.which("gobgp") is None,
                    reason="gobgpd is not installed (Debian package gobgpd)")  # fmt: skip
def test_demo_with_gobgpd_shows_the_router_gaining_and_losing_routes() -> None:
    text = run_demo("gobgp")
    check_story(text, "gobgpd")
    assert "(gobgp global rib)" in text


@pytest.mark.skipif(importlib.util.find_spec("exabgp") is None,
                    reason="ExaBGP is not in this venv (pip install '.[demo]')")  # fmt: skip
def test_demo_with_exabgp_shows_the_router_gaining_and_losing_routes() -> None:
    text = run_demo("exabgp")
    check_story(text, "ExaBGP")
    assert "(ExaBGP's received UPDATEs, via its JSON API)" in text
    assert "[{Origin: i}]" in text


def test_demo_refuses_an_unknown_router_clearly() -> None:
    env = dict(os.environ, RYU_KOVN_DEMO_ROUTER="bird")
    out = subprocess.run([sys.executable, str(DEMO)], capture_output=True, text=True,
                         timeout=30, env=env)  # fmt: skip
    assert out.returncode == 1
    assert "RYU_KOVN_DEMO_ROUTER must be gobgp, exabgp or auto, not 'bird'" in out.stderr


# -- the front door -----------------------------------------------------------------------------


def _front_door_skip_reason() -> str | None:
    if os.geteuid() != 0:
        return "needs root, only to drop to an unprivileged user (uid 65534) for the run"
    for tool in ("make", "setpriv", "git"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed"
    if not DEBIAN_PYTHON.exists():
        return f"{DEBIAN_PYTHON} does not exist"
    probe = subprocess.run([str(DEBIAN_PYTHON), "-c", "import ensurepip, venv"],
                           capture_output=True)  # fmt: skip
    if probe.returncode != 0:
        return f"{DEBIAN_PYTHON} cannot make a venv (Debian package python3-venv)"
    if not (ROOT / ".git").exists():
        return "not a git work tree: cannot tell which files a clone would hold"
    return None


@pytest.fixture
def fresh_tree() -> Iterator[Path]:
    """A copy of the working tree as a clone would hold it once committed, owned by nobody.

    The files are the tracked ones as they are on disk plus the untracked, not ignored
    ones (so work in progress is tested before it is committed); no venv, no build.
    Made under /tmp, not pytest's tmp_path, whose root-only parent nobody cannot enter.
    """
    top = Path(tempfile.mkdtemp(prefix="ryu-kovn-front-door-"))
    try:
        tree = top / "ryu-kovn"
        listed = subprocess.run(["git", "-C", str(ROOT), "ls-files", "-z", "--cached",
                                 "--others", "--exclude-standard"],
                                capture_output=True, check=True).stdout  # fmt: skip
        for name in filter(None, listed.decode().split("\0")):
            source = ROOT / name
            if source.is_file():  # a tracked file deleted on disk is not copied
                (tree / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, tree / name)
        for sub in ("home", "tmp"):
            (top / sub).mkdir()
        for path in [top, *top.rglob("*")]:
            os.chown(path, NOBODY, NOBODY, follow_symlinks=False)
        top.chmod(0o755)
        yield tree
    finally:
        shutil.rmtree(top, ignore_errors=True)


def _as_nobody(tree: Path, extra_env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    top = tree.parent
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": str(top / "home"),
        "TMPDIR": str(top / "tmp"),
        "PIP_CACHE_DIR": str(top / "home" / ".cache" / "pip"),
        "LANG": "C.UTF-8",
        **extra_env,
    }
    # What a user's shell would carry to reach PyPI from here (proxies, certificates).
    for name, value in os.environ.items():
        if name.startswith("PIP_") or name.lower() in PASS_ON:
            env.setdefault(name, value)
    argv = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups",
            "make", "-C", str(tree), "demo", f"PYTHON={DEBIAN_PYTHON}"]  # fmt: skip
    return subprocess.run(argv, capture_output=True, text=True, timeout=600, env=env,
                          stdin=subprocess.DEVNULL)  # fmt: skip


@pytest.mark.timeout(1500)
@pytest.mark.skipif(_front_door_skip_reason() is not None,
                    reason=_front_door_skip_reason() or "")  # fmt: skip
def test_make_demo_as_an_ordinary_user_from_a_fresh_tree(fresh_tree: Path) -> None:
    # As on a new machine: no venv yet, Debian's Python, an unprivileged user, no gobgpd
    # (forced), so the Makefile installs ExaBGP from PyPI.
    out = _as_nobody(fresh_tree, {"RYU_KOVN_DEMO_ROUTER": "exabgp"})
    assert out.returncode == 0, out.stdout[-6000:] + out.stderr[-6000:]
    check_story(out.stdout, "ExaBGP")
    assert "installing ExaBGP from PyPI" in out.stdout
    venv_python = fresh_tree / ".venv" / "bin" / "python"
    assert os.path.realpath(venv_python).startswith("/usr/bin/")
    assert (fresh_tree / ".venv").stat().st_uid == NOBODY
    if shutil.which("gobgpd") and shutil.which("gobgp"):
        # Same tree, the venv already made: the router of a machine that has gobgpd.
        out = _as_nobody(fresh_tree, {})
        assert out.returncode == 0, out.stdout[-6000:] + out.stderr[-6000:]
        check_story(out.stdout, "gobgpd")
