"""The cycle collector paused during bulks, survivors frozen, handed back when quiet."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from ryu_kovn import gc_bulk


@pytest.fixture(autouse=True)
def _restore_collector(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(gc_bulk, "_depth", 0)
    monkeypatch.setattr(gc_bulk, "_frozen_since", None)
    yield
    gc.unfreeze()
    gc.enable()


class Cycle:
    def __init__(self) -> None:
        self.me = self


def test_no_automatic_collection_inside_nested_bulks_and_back_after() -> None:
    assert gc.isenabled()
    with gc_bulk.bulk():
        assert not gc.isenabled()
        with gc_bulk.bulk():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the outer bulk still runs
    assert gc.isenabled()


def test_what_a_bulk_built_is_frozen_and_later_collections_skip_it() -> None:
    gc.collect()
    with gc_bulk.bulk():
        kept = [Cycle() for _ in range(1000)]
    assert gc.get_freeze_count() >= 1000
    del kept
    assert gc.collect() == 0  # frozen: not walked, so not found


def test_frozen_garbage_cycles_are_collected_once_quiet() -> None:
    with gc_bulk.bulk():
        garbage = [Cycle() for _ in range(1000)]
    del garbage
    assert gc_bulk.unfreeze_and_collect(quiet_for=3600) is None  # not quiet long enough
    assert gc.get_freeze_count() > 0
    freed = gc_bulk.unfreeze_and_collect(quiet_for=0)
    assert freed is not None and freed >= 1000
    assert gc.get_freeze_count() == 0
    assert gc_bulk.unfreeze_and_collect(quiet_for=0) is None  # nothing frozen since


def test_nothing_is_unfrozen_while_a_bulk_runs() -> None:
    with gc_bulk.bulk():
        pass
    with gc_bulk.bulk():
        assert gc_bulk.unfreeze_and_collect(quiet_for=0) is None
    assert gc_bulk.unfreeze_and_collect(quiet_for=0) is not None


def test_a_failing_bulk_still_resumes_collection() -> None:
    with pytest.raises(RuntimeError), gc_bulk.bulk():
        raise RuntimeError("list failed")
    assert gc.isenabled()
