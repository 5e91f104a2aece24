"""Fixtures for integration tests that run real routers in network namespaces.

The whole directory is skipped (with the reason shown by ``pytest -rs``) when
the machine cannot host a lab: namespaces need root, and the tests drive the
real ``ip``, ``gobgpd``/``gobgp`` and ``bird``/``birdc`` binaries.
"""

from __future__ import annotations

import os
import shutil
import signal
import sys
from collections.abc import Iterator
from pathlib import Path
from types import FrameType

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from netlab import Lab, reap_stale_namespaces

REQUIRED_TOOLS = ("ip", "gobgpd", "gobgp", "bird", "birdc", "ping", "ss")


def _skip_reason() -> str | None:
    if sys.platform != "linux":
        return "integration tests need Linux network namespaces"
    if os.geteuid() != 0:
        return "integration tests need root (network namespaces, veth, port 179)"
    missing = [tool for tool in REQUIRED_TOOLS if shutil.which(tool) is None]
    if missing:
        return f"integration tests need {', '.join(missing)} (make debs installs them)"
    return None


SKIP_REASON = _skip_reason()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if SKIP_REASON is None:
        return
    here = Path(__file__).resolve().parent
    marker = pytest.mark.skip(reason=SKIP_REASON)
    for item in items:
        if here in Path(str(item.fspath)).resolve().parents:
            item.add_marker(marker)


def _sigterm_to_interrupt(signum: int, frame: FrameType | None) -> None:
    # Default SIGTERM handling ends Python without running fixture finalizers,
    # which would leave namespaces and daemons behind; KeyboardInterrupt lets
    # pytest tear down fixtures first.
    raise KeyboardInterrupt(f"signal {signum}")


def pytest_sessionstart(session: pytest.Session) -> None:
    if SKIP_REASON is None:
        if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
            signal.signal(signal.SIGTERM, _sigterm_to_interrupt)
        reap_stale_namespaces()


@pytest.fixture
def lab() -> Iterator[Lab]:
    """A fresh lab per test; closed (processes killed, namespaces deleted) on teardown."""
    if SKIP_REASON is not None:
        pytest.skip(SKIP_REASON)
    with Lab() as the_lab:
        yield the_lab


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """Router configs and logs; pytest keeps the last runs' dirs for post-mortems."""
    return tmp_path
