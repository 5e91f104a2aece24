"""Fault injection of the emulator, as the official client experiences it.

Why each fault is checked from the client's side: the speaker's resilience tests will rely
on these faults looking exactly like the real failures they stand for, a watch cut without
its terminating chunk (urllib3 ``ProtocolError``, not a clean end), a 500 with a Status
body, a refused connection while the server is down, a request that never gets an answer
while it hangs, and a restart that keeps resourceVersions and history (as etcd does).
"""

from __future__ import annotations

import itertools
import json
import socket
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import urllib3
from kubernetes import watch
from kubernetes.client.exceptions import ApiException

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kubeapi import KubeAPI, WatchReader, wait_until

_names = itertools.count()


@pytest.fixture(scope="module")
def api() -> Iterator[KubeAPI]:
    with KubeAPI(bookmark_interval=0.2) as server:
        yield server


@pytest.fixture(autouse=True)
def _clean_faults(api: KubeAPI) -> Iterator[None]:
    api.admin.reset()
    yield
    if api.running:
        api.resume()
        api.admin.reset()


@pytest.fixture
def v1(api: KubeAPI) -> Any:
    return api.core_v1()


@pytest.fixture
def ns() -> str:
    return f"faults-{next(_names)}"


def pod(name: str) -> dict[str, Any]:
    return {"metadata": {"name": name},
            "spec": {"containers": [{"name": "c", "image": "registry.invalid/c"}]}}


def watch_pods(v1: Any, namespace: str, **kw: Any) -> WatchReader:
    return WatchReader(v1.list_namespaced_pod(namespace, watch=True, _preload_content=False,
                                              **kw))


def now_rv(api: KubeAPI) -> str:
    return str(api.admin.resource_version())


def connection_refused(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
    except ConnectionRefusedError:
        return True
    return False


# ------------------------------------------------------------------------------- streams

@pytest.mark.parametrize("mode", ["close", "reset"])
def test_dropped_watch_breaks_mid_stream_and_resumes_from_rv(api: KubeAPI, v1: Any, ns: str,
                                                             mode: str) -> None:
    reader = watch_pods(v1, ns, resource_version=now_rv(api))
    v1.create_namespaced_pod(ns, pod("a"))
    last_rv = reader.next()["object"]["metadata"]["resourceVersion"]
    assert api.drop_watches(path=ns, mode=mode) == 1
    error = reader.wait_end()
    assert isinstance(error, urllib3.exceptions.ProtocolError), error  # not a clean end
    api.admin.wait_watches(0, path=ns)
    v1.create_namespaced_pod(ns, pod("missed"))
    with watch_pods(v1, ns, resource_version=last_rv) as again:
        assert again.next()["object"]["metadata"]["name"] == "missed"


def test_garbage_line_in_open_streams(api: KubeAPI, v1: Any, ns: str) -> None:
    with watch_pods(v1, ns, resource_version=now_rv(api)) as reader:
        assert api.admin.garbage(path=ns) == 1
        assert reader.next_line() == "this is not JSON {{{"
        v1.create_namespaced_pod(ns, pod("after"))
        assert reader.next()["type"] == "ADDED"  # the stream goes on after the garbage

    start = now_rv(api)

    def inject() -> None:
        api.admin.wait_watches(1, path=ns)
        api.admin.garbage(path=ns, line="<html>proxy error</html>")
        api.create({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "b",
                                                                    "namespace": ns}})

    injector = threading.Thread(target=inject)
    injector.start()
    watcher = watch.Watch()
    seen = []
    for event in watcher.stream(v1.list_namespaced_pod, ns, resource_version=start,
                                timeout_seconds=5):
        seen.append(None if event is None else event["type"])
        if event is not None:
            watcher.stop()
    injector.join()
    assert seen == [None, "ADDED"]  # the official Watch yields None for a non-JSON line


def test_expired_watch_gets_410_and_a_clean_end(api: KubeAPI, v1: Any, ns: str) -> None:
    reader = watch_pods(v1, ns, resource_version=now_rv(api))
    api.admin.wait_watches(1, path=ns)
    assert api.admin.expire_watches(path=ns) == 1
    error = json.loads(reader.next_line())
    assert error["type"] == "ERROR" and error["object"]["code"] == 410
    assert error["object"]["message"].startswith("too old resource version: ")
    assert reader.wait_end() is None


# ------------------------------------------------------------------------------- requests

def test_next_requests_fail_with_the_given_status(api: KubeAPI, v1: Any, ns: str) -> None:
    path = f"/api/v1/namespaces/{ns}/pods"
    api.fail(f"^{path}$", 500, times=2, watch=False)
    for _ in range(2):
        with pytest.raises(ApiException) as failed:
            v1.list_namespaced_pod(ns)
        assert failed.value.status == 500
        assert json.loads(failed.value.body)["reason"] == "InternalError"
    assert v1.list_namespaced_pod(ns).items == []
    stats = api.stats()
    assert stats["faults"] == [] and stats["requests"][f"GET {path}"] == 3
    api.fail(f"^{path}$", 429, times=1)
    with pytest.raises(ApiException) as throttled:
        v1.list_namespaced_pod(ns)
    assert throttled.value.status == 429
    # With Retry-After, urllib3 (under the kubernetes client) retries 429/503 by itself.
    api.fail(f"^{path}$", 503, times=1, retry_after=0)
    assert v1.list_namespaced_pod(ns).items == []
    assert api.stats()["requests"][f"GET {path}"] == 6


def test_faults_can_target_watches_only(api: KubeAPI, v1: Any, ns: str) -> None:
    api.fail(f"/namespaces/{ns}/pods", 503, times=None, watch=True)
    assert v1.list_namespaced_pod(ns).items == []
    with pytest.raises(ApiException) as unavailable:
        v1.list_namespaced_pod(ns, watch=True, _preload_content=False)
    assert unavailable.value.status == 503
    assert api.admin.clear_faults() == 1
    watch_pods(v1, ns).close()


def test_reset_connections_look_like_network_failures(api: KubeAPI, v1: Any, ns: str) -> None:
    path = f"/api/v1/namespaces/{ns}/pods"
    api.admin.reset_connections(f"^{path}$", times=1, method="GET")
    assert v1.list_namespaced_pod(ns).items == []  # urllib3 retries an idempotent GET
    assert api.stats()["requests"][f"GET {path}"] == 2
    api.admin.reset_connections(f"^{path}$", times=1, method="POST")
    with pytest.raises(urllib3.exceptions.HTTPError):
        v1.create_namespaced_pod(ns, pod("never"))


def test_delays_slow_down_matching_requests_only(api: KubeAPI, v1: Any, ns: str) -> None:
    api.delay(f"/namespaces/{ns}/pods$", 0.3, watch=False)
    started = time.monotonic()
    v1.list_namespaced_pod(ns)
    assert time.monotonic() - started >= 0.3
    started = time.monotonic()
    v1.list_namespaced_service(ns)
    assert time.monotonic() - started < 0.25
    api.delay(f"/namespaces/{ns}/pods$", 0.3, times=1, watch=True)
    started = time.monotonic()
    watch_pods(v1, ns).close()
    assert time.monotonic() - started >= 0.3
    assert api.admin.clear_delays() == 1
    started = time.monotonic()
    v1.list_namespaced_pod(ns)
    assert time.monotonic() - started < 0.25


def test_admin_api_is_never_faulted(api: KubeAPI) -> None:
    api.fail(".*", 500, times=None)
    api.delay(".*", 5.0)
    api.admin.hang()
    assert api.stats()["hanging"] is True  # answered at once, despite all of the above
    api.admin.reset()
    assert api.stats()["faults"] == [] and api.stats()["hanging"] is False


# ------------------------------------------------------------------------------- availability

def test_hang_holds_requests_and_watches_until_up(api: KubeAPI, v1: Any, ns: str) -> None:
    reader = watch_pods(v1, ns, resource_version=now_rv(api))
    api.admin.wait_watches(1, path=ns)
    api.admin.hang()
    with pytest.raises((TimeoutError, urllib.error.URLError)):
        urllib.request.urlopen(f"{api.url}/api/v1/namespaces/{ns}/pods", timeout=0.3)
    api.load([{"apiVersion": "v1", "kind": "Pod",
               "metadata": {"name": "during", "namespace": ns}}])
    with pytest.raises(TimeoutError):
        reader.next(timeout=0.3)  # frozen
    answers: list[int] = []
    pending = threading.Thread(target=lambda: answers.append(
        len(v1.list_namespaced_pod(ns, _preload_content=False).data)))
    pending.start()
    api.admin.wait_for(lambda s: any(k == f"GET /api/v1/namespaces/{ns}/pods" and v >= 2
                                     for k, v in s["requests"].items()), what="held request")
    api.admin.up()
    assert reader.next()["object"]["metadata"]["name"] == "during"
    pending.join(5)
    assert answers and answers[0] > 0
    reader.close()


def test_down_refuses_connections_then_serves_on_the_same_port(api: KubeAPI, v1: Any,
                                                               ns: str) -> None:
    reader = watch_pods(v1, ns, resource_version=now_rv(api))
    api.admin.wait_watches(1, path=ns)
    port = api.port
    api.admin.down(0.5)
    assert isinstance(reader.wait_end(), urllib3.exceptions.ProtocolError)
    wait_until(lambda: connection_refused(port), timeout=2, what="connection refused")
    wait_until(lambda: not connection_refused(port), timeout=5, what="listening again")
    assert api.port == port
    assert v1.list_namespaced_pod(ns).items == []


def test_pause_answers_nothing_until_resumed(api: KubeAPI, v1: Any) -> None:
    api.pause()
    try:
        with pytest.raises((TimeoutError, urllib.error.URLError)):
            urllib.request.urlopen(f"{api.url}/version", timeout=0.3)
    finally:
        api.resume()
    assert api.admin.healthz()["ok"] is True


def test_restart_keeps_port_objects_revisions_and_history(api: KubeAPI, v1: Any,
                                                          ns: str) -> None:
    v1.create_namespaced_pod(ns, pod("a"))
    mark = now_rv(api)
    v1.patch_namespaced_pod("a", ns, {"metadata": {"labels": {"x": "1"}}})
    reader = watch_pods(v1, ns, resource_version=mark)
    assert reader.next()["type"] == "MODIFIED"
    port, before = api.port, api.admin.resource_version()
    api.restart()
    assert isinstance(reader.wait_end(), urllib3.exceptions.ProtocolError)
    assert api.port == port and api.admin.resource_version() == before
    assert v1.read_namespaced_pod("a", ns).metadata.labels == {"x": "1"}
    created = v1.create_namespaced_pod(ns, pod("b"))
    assert int(created.metadata.resource_version) > before
    with watch_pods(v1, ns, resource_version=mark) as replay:
        assert [(e["type"], e["object"]["metadata"]["name"]) for e in replay.take(2)] == [
            ("MODIFIED", "a"), ("ADDED", "b")]


def test_kill_comes_back_with_the_last_saved_state(api: KubeAPI, v1: Any, ns: str) -> None:
    v1.create_namespaced_pod(ns, pod("saved"))
    api.admin.save()
    v1.create_namespaced_pod(ns, pod("lost"))
    api.kill()
    api.start()
    names = [p.metadata.name for p in v1.list_namespaced_pod(ns).items]
    assert names == ["saved"]


def test_restart_without_state_is_a_wiped_cluster() -> None:
    with KubeAPI(extra_args=["--too-large-wait", "0.2"]) as api:
        v1 = api.core_v1()
        for i in range(5):
            v1.create_namespaced_pod("x", pod(f"p{i}"))
        old = now_rv(api)
        api.restart(keep_state=False)
        assert api.admin.resource_version() == 0
        with pytest.raises(ApiException) as too_large:
            v1.list_namespaced_pod("x", watch=True, resource_version=old,
                                   _preload_content=False)
        assert too_large.value.status == 504


def test_counters_report_requests_and_open_watches(api: KubeAPI, v1: Any, ns: str) -> None:
    readers = [watch_pods(v1, ns) for _ in range(3)]
    api.admin.wait_watches(3, path=ns)
    stats = api.stats()
    assert stats["requests"][f"WATCH /api/v1/namespaces/{ns}/pods"] == 3
    assert {w["resource"] for w in stats["watches"] if ns in w["path"]} == {"v1/pods"}
    for reader in readers:
        reader.close()
    api.admin.wait_watches(0, path=ns)
