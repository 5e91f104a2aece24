"""Scale of the emulator: 100k pods, write-to-watch latency, fan-out.

Why these three numbers: the speaker's startup on a big cluster is one list of every pod
(the server must not be the bottleneck of a 100k-pod benchmark), and its reaction time is
bounded below by how fast a write shows up on its watch stream (the server must add no
polling delay). Figures are printed (``pytest -s``) and asserted with a margin for a busy
2-core machine.
"""

from __future__ import annotations

import http.client
import json
import statistics
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes.watch.watch import iter_resp_lines

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kubeapi import KubeAPI

COUNT = 100_000


def small_pods_json(count: int, namespace: str = "scale") -> bytes:
    """A JSON array of small annotated pods, formatted directly (json.dumps is slower)."""
    pods = (
        f'{{"apiVersion":"v1","kind":"Pod","metadata":{{"name":"pod-{i:06d}",'
        f'"namespace":"{namespace}","annotations":{{"ovn.kubernetes.io/ip_address":'
        f'"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}"}}}},'
        f'"spec":{{"nodeName":"node-{i % 50}"}},"status":{{"phase":"Running"}}}}'
        for i in range(count))
    return ("[" + ",".join(pods) + "]").encode()


@pytest.fixture(scope="module")
def api() -> Iterator[KubeAPI]:
    with KubeAPI(bookmark_interval=0) as server:
        started = time.perf_counter()
        server.admin.load(small_pods_json(COUNT))
        print(f"\nloading {COUNT} pods through the admin API: "
              f"{time.perf_counter() - started:.2f}s")
        yield server


class TimedLines:
    """Reads a watch stream in a thread, stamping each line with its arrival time."""

    def __init__(self, response: Any) -> None:
        self.response = response
        self.lines: list[tuple[float, str]] = []
        self.cond = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        try:
            for line in iter_resp_lines(self.response):
                with self.cond:
                    self.lines.append((time.perf_counter(), line))
                    self.cond.notify_all()
        except Exception:  # the stream is shut down at the end of the test
            pass

    def wait_count(self, count: int, timeout: float = 10.0) -> None:
        with self.cond:
            if not self.cond.wait_for(lambda: len(self.lines) >= count, timeout):
                raise TimeoutError(f"{len(self.lines)} of {count} lines after {timeout}s")

    def close(self) -> None:
        import socket

        sock = getattr(getattr(self.response, "connection", None), "sock", None)
        if sock is not None:
            sock.shutdown(socket.SHUT_RDWR)


def test_list_of_100k_pods_answers_well_under_two_seconds(api: KubeAPI) -> None:
    v1 = api.core_v1()
    v1.list_namespace()  # open the connection first: measure the list, not the handshake
    timings = []
    body = b""
    for _ in range(2):
        started = time.perf_counter()
        body = v1.list_pod_for_all_namespaces(_preload_content=False).data
        timings.append(time.perf_counter() - started)
    listed = json.loads(body)
    print(f"\nlist of {COUNT} pods ({len(body) / 1e6:.1f} MB): "
          + ", ".join(f"{t:.3f}s" for t in timings))
    assert len(listed["items"]) == COUNT
    assert int(listed["metadata"]["resourceVersion"]) == api.admin.resource_version()
    assert min(timings) < 1.0 and max(timings) < 2.0


def test_paginated_list_of_100k_pods(api: KubeAPI) -> None:
    v1 = api.core_v1()
    names: list[str] = []
    token = None
    started = time.perf_counter()
    while True:
        page = json.loads(v1.list_namespaced_pod("scale", limit=25_000, _continue=token,
                                                 _preload_content=False).data)
        names += [p["metadata"]["name"] for p in page["items"]]
        token = page["metadata"].get("continue")
        if not token:
            break
    print(f"\npaginated list, 4 pages of 25k, parsed: {time.perf_counter() - started:.3f}s")
    assert names == [f"pod-{i:06d}" for i in range(COUNT)]


def test_selector_list_over_100k_pods(api: KubeAPI) -> None:
    v1 = api.core_v1()
    started = time.perf_counter()
    listed = json.loads(v1.list_pod_for_all_namespaces(
        field_selector="spec.nodeName=node-7", _preload_content=False).data)
    elapsed = time.perf_counter() - started
    print(f"\nfieldSelector spec.nodeName over {COUNT} pods: {elapsed:.3f}s")
    assert len(listed["items"]) == COUNT // 50 and elapsed < 2.0


def test_write_reaches_open_watches_within_a_couple_of_milliseconds(api: KubeAPI) -> None:
    v1 = api.core_v1()
    start = str(api.admin.resource_version())
    watchers = [TimedLines(v1.list_namespaced_pod("latency", watch=True, resource_version=start,
                                                  _preload_content=False)) for _ in range(5)]
    conn = http.client.HTTPConnection("127.0.0.1", api.port)
    try:
        conn.request("POST", "/api/v1/namespaces/latency/pods",
                     json.dumps({"metadata": {"name": "x"}}),
                     {"Content-Type": "application/json"})
        conn.getresponse().read()
        for watcher in watchers:
            watcher.wait_count(1)
        rounds = 200
        sent: list[float] = []
        for i in range(rounds):
            body = json.dumps({"metadata": {"labels": {"i": str(i)}}})
            sent.append(time.perf_counter())
            conn.request("PATCH", "/api/v1/namespaces/latency/pods/x", body,
                         {"Content-Type": "application/merge-patch+json"})
            conn.getresponse().read()
            watchers[0].wait_count(i + 2)
        for watcher in watchers:
            watcher.wait_count(rounds + 1)
    finally:
        conn.close()
        for watcher in watchers:
            watcher.close()
    first = [arrived - at for (arrived, _), at in zip(watchers[0].lines[1:], sent, strict=True)]
    slowest = [max(w.lines[i + 1][0] for w in watchers) - at for i, at in enumerate(sent)]
    for watcher in watchers:  # every watcher got every event, in order
        labels = [json.loads(line)["object"]["metadata"]["labels"]["i"]
                  for _, line in watcher.lines[1:]]
        assert labels == [str(i) for i in range(rounds)]
    p50 = statistics.median(first) * 1000
    p95 = sorted(first)[int(rounds * 0.95)] * 1000
    fan50 = statistics.median(slowest) * 1000
    print(f"\nPATCH sent -> MODIFIED received: p50 {p50:.2f} ms, p95 {p95:.2f} ms; "
          f"last of 5 watchers p50 {fan50:.2f} ms")
    assert p50 < 2.0 and fan50 < 5.0
