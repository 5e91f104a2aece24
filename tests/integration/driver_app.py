"""A Ryu app loaded beside ryu_kovn.app in tests only, to drive the speaker.

The product's REST API is read-only by design; tests still need to hand the
speaker prefixes before the Kubernetes side exists.  Loading this module as a
second app (``ryu-manager ryu_kovn.app tests/integration/driver_app.py``) adds
POST routes under ``/_test/`` that call the speaker's internal interface, the
same calls the reconciler makes.
"""

from __future__ import annotations

import json
from typing import ClassVar

from ryu.app.wsgi import ControllerBase, Response, WSGIApplication, route
from ryu.base import app_manager


def _speaker():  # type: ignore[no-untyped-def]
    return app_manager.lookup_service_brick("ryu_kovn").speaker


class _DriverController(ControllerBase):
    def _prefixes(self, req) -> list[str]:  # type: ignore[no-untyped-def]
        return list(json.loads(req.body or b"[]"))

    @route("test_announce", "/_test/announce", methods=["POST"])
    def announce(self, req, **_):  # type: ignore[no-untyped-def]
        _speaker().announce(self._prefixes(req))
        return Response(status=204)

    @route("test_withdraw", "/_test/withdraw", methods=["POST"])
    def withdraw(self, req, **_):  # type: ignore[no-untyped-def]
        _speaker().withdraw(self._prefixes(req))
        return Response(status=204)


class TestDriverApp(app_manager.RyuApp):
    _CONTEXTS: ClassVar[dict[str, type]] = {"wsgi": WSGIApplication}

    def __init__(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        kwargs["wsgi"].register(_DriverController, {})
