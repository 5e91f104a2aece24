"""Ryu WSGI controller serving ryu-kovn's read-only views as JSON.

Every route is a GET: the REST API inspects, it never changes what is announced.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from ryu.app.wsgi import ControllerBase, Response, route

from ryu_kovn.bgp import views

APP_KEY = "ryu_kovn_app"
FAMILIES = ("ipv4", "ipv6")


def _json(body: Any, status: int = 200) -> Response:
    return Response(
        status=status,
        content_type="application/json",
        charset="utf-8",
        body=json.dumps(body, indent=1, sort_keys=True).encode(),
    )


def _not_found(what: str) -> Response:
    return _json({"error": what}, status=404)


class RestController(ControllerBase):
    def __init__(self, req, link, data, **config):  # type: ignore[no-untyped-def]
        super().__init__(req, link, data, **config)
        self.app = data[APP_KEY]

    def _about_neighbor(self, address: str, view: Callable[..., Any]) -> Response:
        neighbor = self.app.find_neighbor(address)
        if neighbor is None:
            return _not_found(f"no neighbor {address!r} is configured")
        return _json(view(self.app.speaker, neighbor))

    @route("neighbors", "/bgp/neighbors", methods=["GET"])
    def list_neighbors(self, req, **_):  # type: ignore[no-untyped-def]
        speaker = self.app.speaker
        return _json([views.neighbor_summary(speaker, n) for n in speaker.neighbors])

    @route("neighbor", "/bgp/neighbors/{address}", methods=["GET"])
    def get_neighbor(self, req, address, **_):  # type: ignore[no-untyped-def]
        return self._about_neighbor(address, views.neighbor_detail)

    @route("adj_out", "/bgp/neighbors/{address}/adj-out", methods=["GET"])
    def get_adj_out(self, req, address, **_):  # type: ignore[no-untyped-def]
        return self._about_neighbor(address, views.adj_out)

    @route("adj_in", "/bgp/neighbors/{address}/adj-in", methods=["GET"])
    def get_adj_in(self, req, address, **_):  # type: ignore[no-untyped-def]
        return self._about_neighbor(address, views.adj_in)

    @route("rib", "/bgp/rib/{family}", methods=["GET"])
    def get_rib(self, req, family, **_):  # type: ignore[no-untyped-def]
        if family not in FAMILIES:
            return _not_found(f"unknown family {family!r}; use one of {', '.join(FAMILIES)}")
        return _json(views.rib(self.app.speaker, family))

    @route("announcements", "/bgp/announcements", methods=["GET"])
    def get_announcements(self, req, **_):  # type: ignore[no-untyped-def]
        return _json(self.app.reconciler.announcements())

    @route("metrics", "/metrics", methods=["GET"])
    def get_metrics(self, req, **_):  # type: ignore[no-untyped-def]
        return Response(status=200, content_type="text/plain", charset="utf-8",
                        body=self.app.metrics.render())  # fmt: skip

    @route("healthz", "/healthz", methods=["GET"])
    def healthz(self, req, **_):  # type: ignore[no-untyped-def]
        return _json({"status": "ok"})

    @route("readyz", "/readyz", methods=["GET"])
    def readyz(self, req, **_):  # type: ignore[no-untyped-def]
        ready, reasons = self.app.readiness()
        return _json({"ready": ready, "waiting_for": reasons}, status=200 if ready else 503)
