"""``make demo``'s script runs green and tells its story from the router's side."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

DEMO = Path(__file__).resolve().parents[2] / "demo" / "demo.py"


@pytest.mark.skipif(shutil.which("gobgpd") is None, reason="the demo's router is gobgpd")
def test_demo_runs_and_shows_routes_arriving_and_leaving():
    out = subprocess.run([sys.executable, str(DEMO)], capture_output=True, text=True, timeout=90)
    assert out.returncode == 0, out.stdout + out.stderr
    text = out.stdout
    before, after = text.split("=== Withdrawing", 1)
    assert "10.16.0.12/32" in before.split("gobgp global rib")[1]
    router_table_after = after.split("\n", 1)[1].split("===")[0]
    assert "10.16.0.0/16" in router_table_after
    assert "10.16.0.12/32" not in router_table_after
    assert "192.0.2.10" in before  # node_ips replaced the loopback pod IP
    assert "Established" in text
    assert "Done in" in text
