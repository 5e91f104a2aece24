"""``/metrics`` in Prometheus text format.

Values are read from the live objects at scrape time (sessions, watcher and
reconciler counters), so the hot paths pay nothing for metrics apart from the
reconcile latency histogram, which must be observed as changes happen.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from ryu_kovn.bgp import views

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
STATES = ("idle", "connect", "active", "opensent", "openconfirm", "established")


class _Live(Collector):
    def __init__(self, app: Any) -> None:
        self._app = app

    def collect(self) -> Iterator[Any]:
        yield from self._sessions()
        yield from self._watchers()
        yield from self._reconciler()

    def _sessions(self) -> Iterator[Any]:
        speaker = self._app.speaker
        state = GaugeMetricFamily(
            "ryukovn_bgp_session_state", "1 for the state each peer's session is in",
            labels=["peer", "state"],
        )
        up = GaugeMetricFamily(
            "ryukovn_bgp_session_uptime_seconds", "Seconds since the session came up (0 if down)",
            labels=["peer"],
        )
        updates = CounterMetricFamily(
            "ryukovn_bgp_updates_sent", "UPDATE messages sent to the peer", labels=["peer"]
        )
        sent = GaugeMetricFamily(
            "ryukovn_bgp_prefixes_sent", "Prefixes in the peer's Adj-RIB-Out", labels=["peer"]
        )
        for neighbor in speaker.neighbors:
            summary = views.neighbor_summary(speaker, neighbor)
            for name in STATES:
                state.add_metric([neighbor.address, name], 1.0 if summary["state"] == name else 0.0)
            up.add_metric([neighbor.address], summary["uptime_seconds"] or 0.0)
            updates.add_metric([neighbor.address], summary["messages"]["sent"]["update"])
            sent.add_metric([neighbor.address], summary["prefixes"]["sent"])
        announced = GaugeMetricFamily(
            "ryukovn_prefixes_announced", "Prefixes announced, per address family",
            labels=["family"],
        )
        prefixes = speaker.announced()
        v6 = sum(1 for p in prefixes if ":" in p)
        announced.add_metric(["ipv4"], len(prefixes) - v6)
        announced.add_metric(["ipv6"], v6)
        yield from (state, up, updates, sent, announced)

    def _watchers(self) -> Iterator[Any]:
        names = {
            "events": "Watch events received",
            "relists": "Relists after 410 Gone",
            "errors": "Failed list or watch requests",
            "restarts": "Watches restarted after a dropped or broken stream",
        }
        families = {
            key: CounterMetricFamily(f"ryukovn_watch_{key}", text, labels=["resource"])
            for key, text in names.items()
        }
        synced = GaugeMetricFamily(
            "ryukovn_watch_synced", "1 once the resource's first list is in", labels=["resource"]
        )
        for watcher in self._app.watchers:
            resource = watcher.resource.plural
            for key, family in families.items():
                family.add_metric([resource], watcher.stats.get(key, 0))
            synced.add_metric([resource], 1.0 if watcher.synced else 0.0)
        yield from families.values()
        yield synced

    def _reconciler(self) -> Iterator[Any]:
        counters = self._app.reconciler.counters
        skipped = CounterMetricFamily(
            "ryukovn_objects_skipped", "Objects skipped for a bad value (once per object version)"
        )
        skipped.add_metric([], counters.problems)
        wanted = GaugeMetricFamily("ryukovn_prefixes_wanted", "Prefixes the cluster objects want")
        wanted.add_metric([], len(self._app.reconciler.wanted()))
        yield from (skipped, wanted)


class Metrics:
    def __init__(self, app: Any) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.reconcile_seconds = Histogram(
            "ryukovn_reconcile_seconds",
            "Time from a watch event to the speaker calls it causes",
            buckets=(0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1.0),
            registry=self.registry,
        )
        self.registry.register(_Live(app))

    def render(self) -> bytes:
        return generate_latest(self.registry)
