"""A Kubernetes API server emulator for ryu-kovn's tests: real HTTP, real watch semantics.

There is no kube-apiserver on the test machines, and the speaker's correctness is mostly
about how it survives the API server's behaviour: list-then-watch from a resourceVersion,
bookmarks, 410 Gone and relist, selectors that turn into DELETED, pagination, and streams
that break. This package serves that behaviour on 127.0.0.1 for the official ``kubernetes``
client (kubeconfig, no TLS, no auth) and for raw ``_preload_content=False`` watch readers.

Why not kmock (PyPI ``kmock``, by kopf's author), which was evaluated first (0.8):

- its request dispatch scans the whole log of past requests for every new request
  (``dsl.View.__contains__`` iterates ``Root._requests`` per reaction): measured here,
  ``GET /version`` went from 13 ms after 0 requests to 73 ms after 900, and a POST took
  300 ms after 1,500 requests. A server that must hold 100k objects and serve a speaker
  for a whole test run cannot sit behind that, and it is inherent to kmock's design as an
  assertion-recording mock, not a bug one can patch around;
- its ``KubernetesEmulator`` has no resourceVersion (lists say ``'...'``), no history, and
  every watch replays all objects: no watch-from-RV, 410, bookmarks, selectors,
  pagination, ``timeoutSeconds``; PUT is not handled and ``watch=1`` is not recognised;
- what would be left to reuse (discovery documents, Status rendering, aiohttp's
  *test* server) is a few dozen lines.

So the server is written directly on aiohttp (``aiohttp.web.Server``, low level), which
the ``kubernetes`` client already depends on.

Layout:

- :mod:`.store`: objects, the global RV counter, bounded history, registry semantics;
- :mod:`.server`: HTTP routes, watch fan-out, fault injection, admin API;
- :mod:`.selectors`, :mod:`.patches`, :mod:`.resources`, :mod:`.loading`: the pieces;
- :mod:`.harness`: :class:`KubeAPI`, the subprocess fixture for tests;
- :mod:`.admin`: :class:`AdminClient` for ``/_emulator/...``;
- the standalone server (see ``--help``): ``PYTHONPATH=tests python -m kubeapi ...``, or
  ``python -m tests.kubeapi ...`` from the repository root once ``tests/__init__.py``
  exists (tinyrpc, a Ryu dependency, installs a top-level ``tests`` package into
  site-packages that shadows a ``tests`` directory without one). Relative imports only,
  so either name works; the harness uses the first.

Admin API (JSON; never subject to injected faults):

=================================  ==========================================================
``GET  /_emulator/healthz``        ``{"ok": true, "resourceVersion": N}``
``GET  /_emulator/stats``          RV, compacted RV, objects per resource, open watches,
                                   requests per ``"METHOD /path"`` (``WATCH`` for watches)
``POST /_emulator/reset``          clear faults, delays, hang, counters (``objects``: all)
``POST /_emulator/load``           YAML or JSON objects, stored as given (status kept)
``POST /_emulator/compact``        forget history (``resourceVersion``: up to that RV)
``POST /_emulator/drop-watches``   cut watch connections mid-stream (``mode``: close/reset)
``POST /_emulator/expire-watches`` ERROR 410 on open watches, then a clean end
``POST /_emulator/garbage``        write one non-JSON ``line`` into open watch streams
``POST /_emulator/bookmark``       send a BOOKMARK now (to watches that allow them)
``POST /_emulator/faults``         ``{"path": regex, "status": 500, "times": 1, "method",
                                   "watch", "message", "retryAfter", "action": "reset"}``
``DELETE /_emulator/faults``       clear faults
``POST /_emulator/delays``         ``{"path": regex, "seconds": S, "times", "method",
                                   "watch"}``
``DELETE /_emulator/delays``       clear delays
``POST /_emulator/down``           ``{"seconds": S}``: stop listening, kill connections
``POST /_emulator/hang``           answer nothing (``seconds`` or until ``/up``)
``POST /_emulator/up``             end a hang
``POST /_emulator/save``           write the state file (``path`` to override)
``POST /_emulator/config``         ``bookmarkInterval``, ``maxEvents``, ``tooLargeWait``
``POST /_emulator/shutdown``       save state and exit
=================================  ==========================================================

Known differences from a real API server (deliberate, for a test fixture): strategic merge
patch is applied as a JSON merge patch on built-in types (lists replaced, no ``$patch``);
server-side apply and ``dryRun`` are refused; no admission, no IP allocation, no
validation beyond names; namespaces are created on first use unless
``--strict-namespaces``; PUT without ``metadata.resourceVersion`` is accepted for every
type; a pod is deleted at once unless ``gracePeriodSeconds > 0`` is given explicitly.
"""

from .admin import AdminClient, AdminError
from .harness import KubeAPI, KubeAPIError, WatchReader, wait_until

__all__ = ["AdminClient", "AdminError", "KubeAPI", "KubeAPIError", "WatchReader", "wait_until"]
