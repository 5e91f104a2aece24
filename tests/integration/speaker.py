"""Run the real speaker (``ryu-manager ryu_kovn.app``) inside a test namespace.

The REST API listens on the namespace's own loopback, as in production, so the
test reads it with ``ryu-kovn-ctl -j`` run inside that namespace: every view a
test checks also exercises the product's CLI.  Prefixes are handed to the
speaker through ``driver_app.py`` (test-only POST routes), the same internal
calls the Kubernetes reconciler makes.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from netlab import Netns, wait_for

BIN = Path(sys.executable).parent
DRIVER_APP = Path(__file__).with_name("driver_app.py")
WSAPI_PORT = 8080

_GET = "import sys, urllib.request; print(urllib.request.urlopen(sys.argv[1]).read().decode())"
_POST = """
import json, sys, urllib.request
req = urllib.request.Request(sys.argv[1], data=sys.argv[2].encode(), method="POST")
urllib.request.urlopen(req, timeout=10).read()
"""


def render_config(options: Mapping[str, Any]) -> str:
    lines = ["[DEFAULT]"]
    for key, value in options.items():
        if isinstance(value, bool):
            value = "true" if value else "false"
        elif isinstance(value, list | tuple):
            value = ",".join(str(v) for v in value)
        lines.append(f"{key} = {value}")
    return "\n".join(lines) + "\n"


class SpeakerProcess:
    def __init__(
        self,
        ns: Netns,
        workdir: Path,
        options: Mapping[str, Any],
        env: Mapping[str, str] | None = None,
        wsapi_port: int = WSAPI_PORT,
        verbose: bool = True,
        name: str = "speaker",
    ) -> None:
        self.ns = ns
        self.workdir = workdir
        self.options = dict(options)
        self.env = dict(env or {})
        self.wsapi_port = wsapi_port
        self.verbose = verbose
        self.config_path = workdir / f"{name}.conf"
        self.log_path = workdir / f"{name}.log"
        self.proc: subprocess.Popen[Any] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.wsapi_port}"

    def command(self) -> list[str]:
        argv = [
            str(BIN / "ryu-manager"),
            "ryu_kovn.app",
            str(DRIVER_APP),
            "--config-file",
            str(self.config_path),
            "--wsapi-port",
            str(self.wsapi_port),
        ]
        return argv + (["--verbose"] if self.verbose else [])

    def start(self, wait: bool = True) -> SpeakerProcess:
        self.config_path.write_text(render_config(self.options))
        env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "PYTHONUNBUFFERED": "1", **self.env}
        self._log = self.log_path.open("ab")
        self.proc = self.ns.popen(
            ["env", "-i", *[f"{k}={v}" for k, v in env.items()], *self.command()],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            cwd=str(self.workdir),
        )
        if wait:
            wait_for(self.healthy, timeout=30, message="speaker did not answer /healthz")
        return self

    def _answers_200(self, path: str) -> bool:
        self.check_alive()
        probe = f"import urllib.request; urllib.request.urlopen('{self.url}{path}', timeout=2)"
        return self.ns.run([str(BIN / "python"), "-c", probe], check=False).returncode == 0

    def fetch(self, path: str) -> str:
        """The body of GET *path* on the speaker's REST API (from inside its namespace)."""
        return self.ns.run([str(BIN / "python"), "-c", _GET, self.url + path]).stdout

    def healthy(self) -> bool:
        return self._answers_200("/healthz")

    def ready(self) -> bool:
        """``/readyz`` says 200: the BGP core is up and every watched list synced."""
        return self._answers_200("/readyz")

    def wait_ready(self, timeout: float = 30) -> None:
        wait_for(self.ready, timeout=timeout, interval=0.1, message="speaker never became ready")

    def check_alive(self) -> None:
        if self.proc is not None and self.proc.poll() is not None:
            raise AssertionError(f"speaker exited with {self.proc.returncode}\n{self.tail()}")

    def stop(self, timeout: float = 15) -> int | None:
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.terminate()
        return self.proc.wait(timeout=timeout)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def tail(self, lines: int = 60) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])

    # -- product CLI ----------------------------------------------------------

    def ctl_text(self, *args: str) -> str:
        return self.ns.run([str(BIN / "ryu-kovn-ctl"), "--url", self.url, *args]).stdout

    def ctl(self, *args: str) -> Any:
        return json.loads(self.ctl_text("-j", *args))

    def neighbor(self, address: str) -> dict[str, Any]:
        return self.ctl("neighbor", address)

    def wait_state(self, address: str, state: str, timeout: float = 30) -> dict[str, Any]:
        def reached() -> dict[str, Any] | None:
            self.check_alive()
            detail = self.neighbor(address)
            return detail if detail["state"] == state else None

        return wait_for(reached, timeout, interval=0.2,
                        message=f"speaker's neighbor {address} never reached {state}")  # fmt: skip

    # -- driving the internal interface -------------------------------------

    def _post(self, path: str, prefixes: Iterable[str]) -> None:
        self.ns.run([str(BIN / "python"), "-c", _POST, self.url + path, json.dumps(list(prefixes))])

    def announce(self, prefixes: Iterable[str]) -> None:
        self._post("/_test/announce", prefixes)

    def withdraw(self, prefixes: Iterable[str]) -> None:
        self._post("/_test/withdraw", prefixes)
