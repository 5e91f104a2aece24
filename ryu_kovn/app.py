"""The Ryu application: ``ryu-manager ryu_kovn.app --config-file FILE``.

It validates the configuration, wires the parts together and owns their
greenthreads; the logic lives in the modules it wires.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
from typing import ClassVar

import eventlet.hubs
import greenlet
import netaddr
from ryu.app.wsgi import WSGIApplication
from ryu.base import app_manager
from ryu.lib import hub

from ryu_kovn import config, gc_bulk, logs
from ryu_kovn.bgp.speaker import Neighbor, Speaker
from ryu_kovn.k8s import client, wiring
from ryu_kovn.metrics import Metrics
from ryu_kovn.reconcile import Reconciler
from ryu_kovn.rest import APP_KEY, RestController

LOG = logging.getLogger("ryu_kovn")

# A minute after the last bulk (list, relist, large batch), the objects it froze
# are handed back to the cycle collector (see ryu_kovn.gc_bulk).
GC_QUIET_SECONDS = 60.0

# ryu-manager parses the config file before it imports this module; options
# registered now still read their values from it (oslo.config reads lazily).
config.register_opts()
config.apply_ryu_defaults()


class RyuKovnApp(app_manager.RyuApp):
    _CONTEXTS: ClassVar[dict[str, type]] = {"wsgi": WSGIApplication}

    def __init__(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self.name = "ryu_kovn"
        try:
            self.settings = config.validate()
        except config.ConfigError as err:
            # Before any session opens: one clear message, non-zero exit.
            LOG.error("refusing to start: %s", err)
            print(f"ryu-kovn: refusing to start: {err}", file=sys.stderr)
            raise SystemExit(2) from None
        password = self.settings.auth_password
        own_logging = bool(self.CONF.log_config_file)
        logs.setup([password.reveal()] if password else [], own_config=own_logging)
        try:
            api = client.api_client(self.settings.kubeconfig)
        except client.ClientConfigError as err:
            LOG.error("refusing to start: %s", err)
            print(f"ryu-kovn: refusing to start: {err}", file=sys.stderr)
            raise SystemExit(2) from None
        self.speaker = Speaker(self.settings)
        self.metrics = Metrics(self)
        self.reconciler = Reconciler(
            self.speaker,
            wiring.context(self.settings),
            observe=self.metrics.reconcile_seconds.observe,
            defer=hub.spawn,
        )
        self.watchers = wiring.watchers(self.settings, api, self.reconciler)
        self.speaker.table_incomplete = lambda: (
            not all(w.synced for w in self.watchers) or self.reconciler.pending()
        )
        self._by_address = {n.address: n for n in self.speaker.neighbors}
        self._stop_watching = threading.Event()  # green under ryu-manager
        self._stopped = hub.Event()
        self._collector: object | None = None
        # ryu-manager's main greenlet; SIGTERM ends the process through it.
        self._main = greenlet.getcurrent()
        kwargs["wsgi"].register(RestController, {APP_KEY: self})

    def start(self):  # type: ignore[no-untyped-def]
        super().start()
        signal.signal(signal.SIGTERM, lambda *_: hub.spawn(self._terminate))
        self.speaker.start()
        for watcher in self.watchers:
            self.threads.append(hub.spawn(watcher.run, self._stop_watching))
        # Not in self.threads: RyuApp.stop() joins those, and this one sleeps.
        self._collector = hub.spawn(self._collect_after_bulks)
        # ryu-manager runs until every thread an app's start() returns has
        # ended; this one lives until stop(), whatever else is loaded.
        return hub.spawn(self._stopped.wait)

    def _collect_after_bulks(self) -> None:
        while not self._stop_watching.is_set():
            hub.sleep(GC_QUIET_SECONDS / 4)
            gc_bulk.unfreeze_and_collect(quiet_for=GC_QUIET_SECONDS)

    def _terminate(self) -> None:
        """SIGTERM: close the sessions as the contract says, then exit 0.

        With graceful restart the routes are left to the peers' restart
        timers; without it each peer gets a Cease and withdraws at once.
        """
        LOG.info("SIGTERM: stopping (graceful restart %s)",
                 "on: routes kept by the peers" if self.settings.graceful_restart
                 else "off: sessions closed, peers withdraw now")  # fmt: skip
        self._stop_watching.set()
        self.speaker.shutdown(notify=not self.settings.graceful_restart)
        # Raise in ryu-manager's main greenlet, from the hub, as eventlet kills a
        # greenthread: its joinall ends, AppManager.close() runs, exit status 0.
        eventlet.hubs.get_hub().schedule_call_global(0, self._main.throw, SystemExit(0))

    def stop(self) -> None:
        self._stop_watching.set()
        if self._collector is not None:
            hub.kill(self._collector)
            self._collector = None
        for watcher in self.watchers:
            watcher.interrupt()  # a quiet watch would otherwise wait for its next event
        self.speaker.stop()
        self._stopped.set()
        super().stop()

    def find_neighbor(self, address: str) -> Neighbor | None:
        try:
            key = str(netaddr.IPAddress(address))
        except (netaddr.AddrFormatError, ValueError):
            return None
        return self._by_address.get(key)

    def readiness(self) -> tuple[bool, list[str]]:
        waiting = [] if self.speaker.core is not None else ["bgp core"]
        waiting += [f"{w.resource.plural} list" for w in self.watchers if not w.synced]
        return not waiting, waiting
