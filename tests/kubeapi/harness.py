"""``KubeAPI``: start the emulator as a subprocess for a test, and drive it.

Why a subprocess: the speaker runs under eventlet, which monkey-patches sockets and threads;
a server in the same process would be scheduled by the speaker's hub and could not be
paused, killed or restarted the way a real API server fails. In its own process it can be
SIGSTOPped (a hung server), SIGKILLed (a crash) or stopped and restarted on the same port
with its state (a rolling restart), and the test process only ever talks HTTP to it.

Typical use::

    with KubeAPI(load=[SAMPLES]) as api:
        run_speaker(kubeconfig=api.kubeconfig_path)
        api.annotate("Pod", "web-0", "shop", {"ovn.kubernetes.io/bgp": None})
        api.admin.drop_watches()
        api.restart()

The helpers speak raw JSON over urllib (no model classes, no third-party dependency);
:meth:`KubeAPI.api_client` gives an official ``kubernetes`` client for the real thing.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

from .admin import AdminClient
from .resources import Registry, ResourceType

REPO_ROOT = Path(__file__).resolve().parents[2]
# The server is started as ``python -m kubeapi`` with this directory on PYTHONPATH, not as
# ``-m tests.kubeapi``: tinyrpc (a Ryu dependency) installs a top-level ``tests`` package into
# site-packages, which shadows this repository's ``tests`` directory unless it has an
# ``__init__.py``. The package uses relative imports only, so both names work.
PACKAGE_PARENT = Path(__file__).resolve().parents[1]
T = TypeVar("T")

PATCH_TYPES = {
    "merge": "application/merge-patch+json",
    "strategic": "application/strategic-merge-patch+json",
    "json": "application/json-patch+json",
}


class KubeAPIError(RuntimeError):
    """The API answered with an error; ``status`` is the HTTP code, ``body`` the Status."""

    def __init__(self, status: int, body: Any) -> None:
        message = body.get("message") if isinstance(body, dict) else body
        super().__init__(f"HTTP {status}: {message}")
        self.status = status
        self.body = body

    @property
    def reason(self) -> str | None:
        return self.body.get("reason") if isinstance(self.body, dict) else None


def wait_until(condition: Callable[[], T], timeout: float = 10.0, interval: float = 0.005,
               what: str = "condition") -> T:
    """Call ``condition`` until it returns something truthy; return that (or time out)."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


class WatchReader:
    """Read a raw watch response (``_preload_content=False``) in a thread, line by line.

    Why a thread: a test must wait for "the next event" with a timeout, and must see how
    the stream ended: cleanly (``ended`` set, ``error`` None), or broken (``error`` holds
    urllib3's ProtocolError), which is the distinction fault injection is about. Lines are
    split with the kubernetes client's own ``iter_resp_lines``, as its Watch does.
    """

    def __init__(self, response: Any) -> None:
        import queue

        self.response = response
        self.lines: queue.Queue[str] = queue.Queue()
        self.ended = threading.Event()
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._read, name="watch-reader", daemon=True)
        self._thread.start()

    def _read(self) -> None:
        from kubernetes.watch.watch import iter_resp_lines

        try:
            for line in iter_resp_lines(self.response):
                self.lines.put(line)
        except BaseException as exc:  # the point is to report it
            self.error = exc
        finally:
            self.ended.set()

    def next_line(self, timeout: float = 5.0) -> str:
        """The next raw line; TimeoutError if none arrives (the stream may have ended)."""
        import queue

        try:
            return self.lines.get(timeout=timeout)
        except queue.Empty:
            state = f"ended, error={self.error!r}" if self.ended.is_set() else "open"
            raise TimeoutError(f"no watch line within {timeout}s (stream {state})") from None

    def next(self, timeout: float = 5.0, *, skip_bookmarks: bool = True) -> dict[str, Any]:
        """The next decoded event (BOOKMARKs skipped unless asked for)."""
        while True:
            event = json.loads(self.next_line(timeout))
            if not (skip_bookmarks and event.get("type") == "BOOKMARK"):
                return event

    def take(self, count: int, timeout: float = 5.0, **kw: Any) -> list[dict[str, Any]]:
        return [self.next(timeout, **kw) for _ in range(count)]

    def wait_end(self, timeout: float = 5.0) -> BaseException | None:
        """Wait for the stream to end; the error that ended it (None for a clean end)."""
        if not self.ended.wait(timeout):
            raise TimeoutError(f"watch stream still open after {timeout}s")
        return self.error

    def pending(self) -> list[str]:
        """Lines received but not yet consumed (without waiting)."""
        out: list[str] = []
        while not self.lines.empty():
            out.append(self.lines.get_nowait())
        return out

    def close(self) -> None:
        """Close the stream; the server then sees the watcher go away.

        The socket is shut down first: closing an urllib3 response while another thread
        is blocked reading it deadlocks on the buffer lock (the kubernetes client's own
        ``Watch.stop`` does the same for the same reason).
        """
        import socket

        sock = getattr(getattr(self.response, "connection", None), "sock", None)
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        self.ended.wait(5)
        with contextlib.suppress(Exception):
            self.response.close()
        with contextlib.suppress(Exception):
            self.response.release_conn()

    def __enter__(self) -> WatchReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class KubeAPI:
    """A Kubernetes API emulator process, from ``__enter__`` to ``__exit__`` (even on error)."""

    def __init__(self, *, load: Iterable[str | Path] = (), port: int = 0,
                 bookmark_interval: float = 1.0, max_events: int = 10000,
                 strict_namespaces: bool = False, workdir: str | Path | None = None,
                 startup_timeout: float = 20.0, extra_args: Iterable[str] = ()) -> None:
        self.load_files = [str(p) for p in load]
        self.port = port
        self.bookmark_interval = bookmark_interval
        self.max_events = max_events
        self.strict_namespaces = strict_namespaces
        self.startup_timeout = startup_timeout
        self.extra_args = list(extra_args)
        self._own_workdir = workdir is None
        self.workdir = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="kubeapi-"))
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port_file = self.workdir / "port"
        self.kubeconfig_path = self.workdir / "kubeconfig"
        self.state_path = self.workdir / "state.json"
        self.log_path = self.workdir / "server.log"
        self.registry = Registry()
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: Any = None
        self._paused = False

    # ----------------------------------------------------------------------------- process

    def __enter__(self) -> KubeAPI:
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop the process and remove the work directory.

        With a work directory of our own the state is thrown away, so the process is
        killed rather than asked to save 100k objects it will never be asked for.
        """
        try:
            self.stop(timeout=5, save=not self._own_workdir)
        finally:
            if self._own_workdir:
                shutil.rmtree(self.workdir, ignore_errors=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def admin(self) -> AdminClient:
        return AdminClient(self.url)

    def command(self) -> list[str]:
        cmd = [sys.executable, "-m", "kubeapi", "--host", "127.0.0.1",
               "--port", str(self.port), "--port-file", str(self.port_file),
               "--kubeconfig-out", str(self.kubeconfig_path),
               "--state-file", str(self.state_path),
               "--bookmark-interval", str(self.bookmark_interval),
               "--max-events", str(self.max_events), "--exit-on-stdin-eof"]
        if self.strict_namespaces:
            cmd.append("--strict-namespaces")
        for path in self.load_files:
            cmd += ["--load", path]
        return cmd + self.extra_args

    def start(self) -> None:
        """Start the process and wait until it serves (port file written, healthz answers)."""
        if self.running:
            raise RuntimeError("the emulator is already running")
        with contextlib.suppress(FileNotFoundError):
            self.port_file.unlink()
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(PACKAGE_PARENT), env.get("PYTHONPATH", "")) if p)
        self._log = open(self.log_path, "ab")  # closed in stop()
        # stdin is a pipe we never write: with --exit-on-stdin-eof the server stops when it
        # closes, so a test process that dies (even SIGKILLed) leaves no orphan server.
        self._proc = subprocess.Popen(self.command(), cwd=REPO_ROOT, env=env,
                                      stdin=subprocess.PIPE, stdout=self._log,
                                      stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + self.startup_timeout
        while not self.port_file.exists():
            if self._proc.poll() is not None:
                raise RuntimeError(f"kubeapi emulator exited with {self._proc.returncode}:\n"
                                   f"{self.log_text()[-4000:]}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"kubeapi emulator did not start:\n{self.log_text()[-4000:]}")
            time.sleep(0.01)
        self.port = int(self.port_file.read_text().strip())
        self.admin.healthz()

    def stop(self, timeout: float = 10.0, save: bool = True) -> None:
        """Stop the process: SIGTERM (it saves its state), SIGKILL if it does not exit."""
        proc = self._proc
        if proc is not None and proc.poll() is None:
            if self._paused:
                self.resume()
            os.kill(proc.pid, signal.SIGTERM if save else signal.SIGKILL)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait(5)
        if proc is not None and proc.stdin is not None:
            with contextlib.suppress(OSError):
                proc.stdin.close()
        self._proc = None
        self._paused = False
        if self._log is not None:
            self._log.close()
            self._log = None

    def kill(self) -> None:
        """SIGKILL: a crash. Nothing is saved; a restart comes back with the last saved state."""
        self.stop(save=False)

    def restart(self, keep_state: bool = True, down_for: float = 0.0) -> None:
        """Stop and start again on the same port; with ``keep_state`` objects, RVs and history
        survive (as etcd keeps them across an API server restart)."""
        self.stop()
        if not keep_state:
            with contextlib.suppress(FileNotFoundError):
                self.state_path.unlink()
        if down_for:
            time.sleep(down_for)
        self.start()

    def pause(self) -> None:
        """SIGSTOP: the port still accepts TCP connections, but nothing is ever answered."""
        if self._proc is not None:
            os.kill(self._proc.pid, signal.SIGSTOP)
            self._paused = True

    def resume(self) -> None:
        if self._proc is not None:
            os.kill(self._proc.pid, signal.SIGCONT)
            self._paused = False

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    # ----------------------------------------------------------------------------- clients

    def api_client(self) -> Any:
        """A fresh official ``kubernetes.client.ApiClient`` for this server."""
        from kubernetes import client

        configuration = client.Configuration()
        configuration.host = self.url
        return client.ApiClient(configuration)

    def core_v1(self) -> Any:
        from kubernetes import client

        return client.CoreV1Api(self.api_client())

    def custom_objects(self) -> Any:
        from kubernetes import client

        return client.CustomObjectsApi(self.api_client())

    # ----------------------------------------------------------------------------- raw JSON

    def resource(self, kind: str) -> ResourceType:
        """Resolve "Pod", "pods", "IptablesEIP", "iptables-eips", "eip", ..."""
        return self.registry.find(kind)

    def path_for(self, kind: str, namespace: str | None = None, name: str | None = None,
                 subresource: str | None = None) -> str:
        return self.resource(kind).path(namespace, name, subresource)

    def request(self, method: str, path: str, body: Any = None, *,
                content_type: str = "application/json",
                query: dict[str, Any] | None = None, timeout: float = 30.0) -> Any:
        """One API call with a JSON body; the decoded answer, or :class:`KubeAPIError`."""
        url = self.url + path
        if query:
            url += "?" + urllib.parse.urlencode({k: v for k, v in query.items()
                                                 if v is not None})
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(url, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", content_type)
        req.add_header("Accept", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=timeout) as response:
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            raw = exc.read()
            try:
                detail: Any = json.loads(raw)
            except ValueError:
                detail = raw.decode(errors="replace")
            raise KubeAPIError(exc.code, detail) from None

    def create(self, obj: dict[str, Any], *, with_status: bool = True) -> dict[str, Any]:
        """POST the object; then, as a controller would, write its ``status`` (if any).

        A real server ignores ``status`` on create for types with a status subresource, so
        this takes two writes (ADDED then MODIFIED). Use :meth:`load` for one ADDED event
        carrying the status as given.
        """
        rtype = self.registry.by_kind(obj.get("apiVersion", ""), obj.get("kind", ""))
        if rtype is None:
            raise KeyError(f"no served resource for {obj.get('apiVersion')}/{obj.get('kind')}")
        meta = obj.get("metadata") or {}
        namespace = meta.get("namespace", "default") if rtype.namespaced else None
        created = self.request("POST", rtype.path(namespace), obj)
        if with_status and rtype.has_status and obj.get("status") is not None:
            return self.set_status(rtype.kind, created["metadata"]["name"], namespace,
                                   obj["status"])
        return created

    def get(self, kind: str, name: str, namespace: str | None = None) -> dict[str, Any]:
        return self.request("GET", self.path_for(kind, namespace, name))

    def list(self, kind: str, namespace: str | None = None, **query: Any) -> dict[str, Any]:
        """List (``labelSelector=...``, ``fieldSelector=...``, ``limit=...`` as keywords)."""
        return self.request("GET", self.path_for(kind, namespace), query=query)

    def replace(self, obj: dict[str, Any]) -> dict[str, Any]:
        rtype = self.registry.by_kind(obj.get("apiVersion", ""), obj.get("kind", ""))
        if rtype is None:
            raise KeyError(f"no served resource for {obj.get('apiVersion')}/{obj.get('kind')}")
        meta = obj["metadata"]
        namespace = meta.get("namespace", "default") if rtype.namespaced else None
        return self.request("PUT", rtype.path(namespace, meta["name"]), obj)

    def patch(self, kind: str, name: str, namespace: str | None, patch: Any, *,
              patch_type: str = "merge", subresource: str | None = None) -> dict[str, Any]:
        """PATCH with a merge (default), ``strategic`` or ``json`` patch.

        ``namespace`` is None for cluster-scoped kinds (Subnet, IptablesEIP, ...).
        """
        return self.request("PATCH", self.path_for(kind, namespace, name, subresource), patch,
                            content_type=PATCH_TYPES[patch_type])

    def annotate(self, kind: str, name: str, namespace: str | None,
                 annotations: dict[str, str | None]) -> dict[str, Any]:
        """Set annotations; a ``None`` value removes the annotation."""
        return self.patch(kind, name, namespace, {"metadata": {"annotations": annotations}})

    def label(self, kind: str, name: str, namespace: str | None,
              labels: dict[str, str | None]) -> dict[str, Any]:
        """Set labels; a ``None`` value removes the label."""
        return self.patch(kind, name, namespace, {"metadata": {"labels": labels}})

    def set_status(self, kind: str, name: str, namespace: str | None,
                   status: dict[str, Any]) -> dict[str, Any]:
        """Replace ``status`` as a whole through the status subresource (PUT)."""
        current = self.get(kind, name, namespace)
        current["status"] = status
        return self.request("PUT", self.path_for(kind, namespace, name, "status"), current)

    def patch_status(self, kind: str, name: str, namespace: str | None,
                     status: dict[str, Any]) -> dict[str, Any]:
        """Merge-patch ``status`` through the status subresource."""
        return self.patch(kind, name, namespace, {"status": status}, subresource="status")

    def delete(self, kind: str, name: str, namespace: str | None = None, *,
               grace_period: int | None = None) -> dict[str, Any]:
        query = {"gracePeriodSeconds": grace_period} if grace_period is not None else None
        return self.request("DELETE", self.path_for(kind, namespace, name), query=query)

    def load(self, source: Iterable[dict[str, Any]] | str | Path) -> dict[str, Any]:
        """Load fixtures as given (status kept): dicts, a YAML/JSON file path, or YAML text."""
        if isinstance(source, Path) or (isinstance(source, str) and "\n" not in source
                                        and Path(source).exists()):
            return self.admin.load(Path(source).read_bytes())
        if isinstance(source, str):
            return self.admin.load(source)
        return self.admin.load(list(source))

    # -- the admin API's most used faults, for brevity in tests

    def stats(self) -> dict[str, Any]:
        return self.admin.stats()

    def drop_watches(self, path: str | None = None, mode: str = "close") -> int:
        return self.admin.drop_watches(path, mode)

    def compact(self, resource_version: int | None = None) -> int:
        return self.admin.compact(resource_version)

    def fail(self, path: str, status: int = 500, times: int | None = 1, **kw: Any) -> str:
        return self.admin.fail(path, status, times, **kw)

    def delay(self, path: str, seconds: float, times: int | None = None, **kw: Any) -> str:
        return self.admin.delay(path, seconds, times, **kw)
