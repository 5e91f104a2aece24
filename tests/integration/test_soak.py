"""The churn soak in a short form (``make soak`` runs the full one)."""

from __future__ import annotations

from soak import run


def test_churn_with_stream_drops_and_a_router_restart_loses_and_leaks_nothing(workdir):
    result = run(pods=1000, rate=100, seconds=15, workdir=workdir)
    assert result["operations"] >= 1000  # the load really ran at the rate
    assert result["counts"]["fault:drop"] == 2 and result["counts"]["fault:router-restart"] == 1
    assert (result["lost"], result["leaked"]) == (0, 0), result
    assert result["speaker_disagrees_with_truth"] == 0, result
