"""Python's cycle collector, paused while a bulk of long-lived objects is built.

A 100k-pod list and its 100k routes create millions of objects that live as long
as the pods do.  With the collector running, every few thousand allocations it
walks the young objects, and every time the old generation grows by a quarter
it walks the whole heap: a third of the k8s side of a cold start, measured.
None of these objects is garbage, so the walks find nothing.

While any bulk runs (a watcher's list, a batch fed into Ryu's tables) automatic
collection is off.  When the last one ends, what survived is frozen
(``gc.freeze``: moved where later collections do not walk it) and collection
resumes for what comes after.  Memory is still freed by reference counting as
objects go; only garbage *cycles* formed during a bulk are never collected,
and ``unfreeze_and_collect`` (run once the speaker has been quiet for a while)
hands them back to the collector.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import time
from collections.abc import Iterator

LOG = logging.getLogger(__name__)

_depth = 0
_frozen_since: float | None = None


@contextlib.contextmanager
def bulk() -> Iterator[None]:
    """No automatic collection inside; may nest, and across greenthreads."""
    global _depth, _frozen_since
    if _depth == 0:
        gc.disable()
    _depth += 1
    try:
        yield
    finally:
        _depth -= 1
        if _depth == 0:
            gc.freeze()
            _frozen_since = time.monotonic()
            gc.enable()


def unfreeze_and_collect(quiet_for: float) -> int | None:
    """Collect what earlier bulks froze, if none is running and the last ended
    at least *quiet_for* seconds ago; the number of objects freed, or None."""
    global _frozen_since
    if _depth or _frozen_since is None or time.monotonic() - _frozen_since < quiet_for:
        return None
    _frozen_since = None
    gc.unfreeze()
    started = time.perf_counter()
    freed = gc.collect()
    LOG.debug("full collection after bulk: %d objects freed in %.3f s", freed,
              time.perf_counter() - started)  # fmt: skip
    return freed
