"""The emulated API server, reachable on 127.0.0.1:6443 from inside a namespace."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from netlab import Netns

BRIDGE = Path(__file__).with_name("nsbridge.py")
NS_PORT = 6443


def _wait_ready(proc: subprocess.Popen[Any], what: str) -> None:
    line = proc.stdout.readline() if proc.stdout else b""
    if line.strip() != b"ready":
        raise RuntimeError(f"{what} did not start (exit {proc.poll()}): {line!r}")


class KubeLink:
    def __init__(self, ns: Netns, api_port: int) -> None:
        # Unix socket paths are limited to 108 bytes: keep it short, outside tmp_path.
        self._dir = Path(tempfile.mkdtemp(prefix="rk-kube-"))
        sock = self._dir / "api.sock"
        self._root = subprocess.Popen(
            [sys.executable, str(BRIDGE), "--listen", f"unix:{sock}",
             "--connect", f"tcp:127.0.0.1:{api_port}"],
            stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        _wait_ready(self._root, "the root-namespace relay")
        self._inner = ns.popen(
            [sys.executable, str(BRIDGE), "--listen", f"tcp:127.0.0.1:{NS_PORT}",
             "--connect", f"unix:{sock}"],
            stdout=subprocess.PIPE,
        )  # fmt: skip
        _wait_ready(self._inner, f"the relay in {ns.name}")
        self.kubeconfig = self._dir / "kubeconfig"
        self.kubeconfig.write_text(
            "apiVersion: v1\nkind: Config\ncurrent-context: emulator\n"
            f"clusters:\n- name: emulator\n  cluster:\n    server: http://127.0.0.1:{NS_PORT}\n"
            "contexts:\n- name: emulator\n  context:\n    cluster: emulator\n    user: tester\n"
            "users:\n- name: tester\n  user: {}\n"
        )

    def close(self) -> None:
        for proc in (self._inner, self._root):
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    proc.kill()
        shutil.rmtree(self._dir, ignore_errors=True)
