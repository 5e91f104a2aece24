"""The pure helpers of ``make bench`` (benchmarks/bench_tools.py): no lab needed."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

_PATH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_tools.py"
_SPEC = importlib.util.spec_from_file_location("bench_tools", _PATH)
assert _SPEC is not None and _SPEC.loader is not None
bt = importlib.util.module_from_spec(_SPEC)
sys.modules.setdefault("bench_tools", bt)
_SPEC.loader.exec_module(bt)


def test_percentile_is_nearest_rank():
    values = list(range(1, 501))  # 1..500
    assert bt.percentile(values, 50) == 250
    assert bt.percentile(values, 99) == 495
    assert bt.percentile(values, 100) == 500
    assert bt.percentile(values, 0) == 1
    assert bt.percentile([7.5], 99) == 7.5


def test_percentile_rejects_nonsense():
    with pytest.raises(ValueError):
        bt.percentile([], 50)
    with pytest.raises(ValueError):
        bt.percentile([1], 101)


def test_distribution():
    d = bt.distribution([3.0, 1.0, 2.0, 10.0])
    assert d == {"n": 4, "p50": 2.0, "p90": 10.0, "p99": 10.0, "max": 10.0, "mean": 4.0}
    assert bt.distribution([])["p99"] is None


def test_first_time_at_least():
    samples = [(0.0, 0), (0.1, 50), (0.2, 100), (0.3, 100)]
    assert bt.first_time_at_least(samples, 100) == 0.2
    assert bt.first_time_at_least(samples, 101) is None


def test_parse_status_kb():
    text = "Name:\tpython3\nVmPeak:\t  300000 kB\nVmHWM:\t  150000 kB\nVmRSS:\t  120000 kB\n"
    got = bt.parse_status_kb(text)
    assert got["VmHWM"] == 150000
    assert got["VmRSS"] == 120000
    assert "Name" not in got


def test_parse_stat_ticks_survives_odd_command_names():
    fields = ["S", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "111", "222"] + ["0"] * 30
    text = "1234 (ryu) manager (x)) " + " ".join(fields)
    assert bt.parse_stat_ticks(text) == 333


def test_cpu_percent():
    assert bt.cpu_percent(60, 60.0, hz=100) == pytest.approx(1.0)
    with pytest.raises(ValueError):
        bt.cpu_percent(1, 0)


def test_evaluate_targets():
    results = {"bulk_100k_delivery_s": 8.0, "latency_ms": {"p99": 70.0},
               "idle_cpu_percent": 0.2, "bulk_10k_prefixes_per_update": 600.0}
    verdict = bt.evaluate(results)
    assert verdict["delivery_100k"]["pass"] is True
    assert verdict["latency_p99"]["pass"] is False
    assert verdict["idle_cpu"]["pass"] is True
    assert verdict["prefixes_per_update_10k"]["pass"] is True
    assert verdict["rss_100k"]["pass"] is None  # not measured
    assert verdict["rss_100k"]["value"] is None


def test_lookup():
    assert bt.lookup({"a": {"b": 1}}, "a.b") == 1
    assert bt.lookup({"a": {"b": 1}}, "a.c") is None
    assert bt.lookup({"a": 1}, "a.b") is None


def test_table_pads_columns():
    text = bt.table([["x", 1.5, None, True], ["longer", 12345, 2, False]],
                    ("figure", "ours", "GoBGP", "pass"))
    lines = text.splitlines()
    assert lines[0].startswith("figure  ")
    assert set(lines[1].replace(" ", "")) == {"-"}
    assert "12,345" in lines[3]
    assert lines[2].split()[-1] == "yes" and lines[3].split()[-1] == "NO"


def test_summary_rows_skip_unmeasured_scales():
    rows = bt.summary_rows({"bulk_10k_delivery_s": 4.0, "gobgp_10k_delivery_s": 5.0})
    names = [r[0] for r in rows]
    assert any(n.startswith("bulk 10k") for n in names)
    assert not any(n.startswith("bulk 100k") for n in names)


def test_summarize_collapsed():
    lines = [
        "main (app.py);run (hub.py);send (peer.py) 30",
        "main (app.py);run (hub.py);encode (msg.py) 60",
        "main (app.py);idle (hub.py) 10",
        "garbage line",
        "",
    ]
    got = bt.summarize_collapsed(lines, top=2)
    assert got["samples"] == 100
    assert got["self"] == [["encode (msg.py)", 60.0], ["send (peer.py)", 30.0]]
    assert got["inclusive"][0] == ["main (app.py)", 100.0]
    assert bt.summarize_collapsed([])["samples"] == 0
