"""``make demo``'s script runs green and tells its story from the router's side."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

DEMO = Path(__file__).resolve().parents[2] / "demo" / "demo.py"


def _router_table(text: str, heading: str) -> str:
    """The gobgp table printed right after *heading*."""
    return text.split(heading, 1)[1].split("\n=== ", 1)[0]


@pytest.mark.skipif(shutil.which("gobgpd") is None, reason="the demo's router is gobgpd")
def test_demo_shows_the_router_gaining_and_losing_routes():
    out = subprocess.run([sys.executable, str(DEMO)], capture_output=True, text=True, timeout=90)
    assert out.returncode == 0, out.stdout + out.stderr
    text = out.stdout
    first = _router_table(text, "The scene is announced")
    arrived = _router_table(text, "10.20.0.13/32 arrived")
    left = _router_table(text, "10.16.0.0/16 left")
    assert "10.20.0.13/32" not in first and "10.20.0.13/32" in arrived
    assert "10.16.0.0/16" in arrived and "10.16.0.0/16" not in left
    assert "10.16.0.12/32" in left  # the pod's own annotation outlives the subnet's
    assert "10.70.0.9/32" not in text  # another node's Local pod
    assert "10.16.0.50/32" not in text  # the typo pod
    assert "192.0.2.10" in first  # node_ips replaced the loopback pod IP
    why = text.split("ryu-kovn-ctl announcements", 1)[1]
    assert "Pod/shop/cache-2" in why and "local" in why
    assert "Done in" in text
