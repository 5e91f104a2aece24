"""Pure helpers of ``make bench``: statistics, /proc parsing, targets, the summary table.

Standard library only and no I/O beyond what a caller passes in, so that
tests/unit/test_bench_tools.py can check them without a lab.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

# --------------------------------------------------------------------------- statistics


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0..100) by the nearest-rank method (a value that occurred).

    Nearest rank, not interpolation: "p99 of 500 samples" is then the 495th
    smallest, a latency that was really observed.
    """
    if not values:
        raise ValueError("percentile of no values")
    if not 0 <= q <= 100:
        raise ValueError(f"percentile out of range: {q}")
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def distribution(values: Sequence[float], digits: int = 2) -> dict[str, float | int | None]:
    """n, p50, p90, p99, max, mean of ``values`` (None for the statistics when empty)."""
    if not values:
        return {"n": 0, "p50": None, "p90": None, "p99": None, "max": None, "mean": None}
    return {
        "n": len(values),
        "p50": round(percentile(values, 50), digits),
        "p90": round(percentile(values, 90), digits),
        "p99": round(percentile(values, 99), digits),
        "max": round(max(values), digits),
        "mean": round(sum(values) / len(values), digits),
    }


def first_time_at_least(samples: Iterable[tuple[float, int]], want: int) -> float | None:
    """The first time whose count reaches ``want`` in ``(time, count)`` samples."""
    for t, count in samples:
        if count >= want:
            return t
    return None


# --------------------------------------------------------------------------- /proc


def parse_status_kb(text: str) -> dict[str, int]:
    """``/proc/PID/status`` memory lines (``VmRSS: 1234 kB``) as {name: kB}."""
    out = {}
    for line in text.splitlines():
        m = re.match(r"^(Vm\w+|Rss\w+):\s+(\d+)\s+kB$", line.strip())
        if m:
            out[m.group(1)] = int(m.group(2))
    return out


def parse_stat_ticks(text: str) -> int:
    """utime + stime (clock ticks) from ``/proc/PID/stat``.

    The command name (field 2) is in parentheses and may itself hold spaces
    and parentheses, so fields are counted from the last ``)``.
    """
    rest = text[text.rindex(")") + 2:].split()
    # rest[0] is field 3 (state); utime and stime are fields 14 and 15.
    return int(rest[11]) + int(rest[12])


def cpu_percent(ticks: int, seconds: float, hz: int = 100) -> float:
    """CPU time ``ticks`` over a wall-clock window, as percent of one core."""
    if seconds <= 0:
        raise ValueError("empty window")
    return 100.0 * ticks / hz / seconds


# --------------------------------------------------------------------------- targets


@dataclass(frozen=True)
class Target:
    """One line of issue 6's targets: the figure's key, how it must compare, the limit."""

    name: str
    key: str  # a dotted path into the results, e.g. "latency_ms.p99"
    op: str  # "<=" or ">="
    limit: float
    unit: str
    text: str

    def check(self, value: float | None) -> bool | None:
        if value is None:
            return None
        return value <= self.limit if self.op == "<=" else value >= self.limit


TARGETS: tuple[Target, ...] = (
    Target("delivery_100k", "bulk_100k_delivery_s", "<=", 10.0, "s",
           "100k prefixes delivered in <= 10 s"),
    Target("ratio_to_gobgp", "ratio_ours_to_gobgp", "<=", 2.0, "x",
           "<= 2x GoBGP's time (session up -> all), same run"),
    Target("prefixes_per_update_100k", "bulk_100k_prefixes_per_update", ">=", 500.0,
           "prefixes/UPDATE", "<= 1 UPDATE per 500 prefixes (100k)"),
    Target("prefixes_per_update_10k", "bulk_10k_prefixes_per_update", ">=", 500.0,
           "prefixes/UPDATE", "<= 1 UPDATE per 500 prefixes (10k)"),
    Target("rss_100k", "speaker_rss_100k_mb", "<=", 200.0, "MB",
           "speaker RSS <= 200 MB with 100k announced (peak)"),
    Target("rss_10k", "speaker_rss_10k_mb", "<=", 150.0, "MB",
           "speaker RSS <= 150 MB with 10k pods cached"),
    Target("latency_p99", "latency_ms.p99", "<=", 50.0, "ms", "latency p99 <= 50 ms"),
    Target("idle_cpu", "idle_cpu_percent", "<=", 1.0, "%", "idle CPU <= 1% of one core"),
)  # fmt: skip


def lookup(results: Mapping[str, Any], dotted: str) -> Any:
    """``results["a"]["b"]`` for ``"a.b"``; None when any part is missing."""
    value: Any = results
    for part in dotted.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


def evaluate(results: Mapping[str, Any],
             targets: Sequence[Target] = TARGETS) -> dict[str, dict[str, Any]]:
    """{target name: {target, key, limit, unit, value, pass}}; pass None when not measured."""
    out = {}
    for t in targets:
        value = lookup(results, t.key)
        number = value if isinstance(value, int | float) and not isinstance(value, bool) else None
        out[t.name] = {"target": t.text, "key": t.key, "op": t.op, "limit": t.limit,
                       "unit": t.unit, "value": number, "pass": t.check(number)}
    return out


# --------------------------------------------------------------------------- summary table


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "NO"
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 1000 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def table(rows: Sequence[Sequence[Any]], header: Sequence[str]) -> str:
    """A plain-text table, columns padded to their widest cell."""
    cells = [[str(h) for h in header]] + [[_fmt(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = []
    for n, row in enumerate(cells):
        lines.append("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def summary_rows(results: Mapping[str, Any]) -> list[list[Any]]:
    """(figure, target, ours, GoBGP, pass) for the summary table."""
    g = results.get
    lat = g("latency_ms") or {}
    verdicts = g("targets") or {}

    def verdict(name: str) -> Any:
        return (verdicts.get(name) or {}).get("pass")

    rows: list[list[Any]] = []
    for n in ("10k", "100k"):
        if g(f"bulk_{n}_delivery_s") is None:
            continue
        rows += [
            [f"bulk {n}: start -> all in router (s)", "<= 10" if n == "100k" else "",
             g(f"bulk_{n}_delivery_s"), g(f"gobgp_{n}_delivery_s"),
             verdict("delivery_100k") if n == "100k" else None],
            [f"bulk {n}: established -> all (s)", "",
             g(f"bulk_{n}_delivery_from_established_s"),
             g(f"gobgp_{n}_delivery_from_established_s"), None],
            [f"bulk {n}: ratio ours/GoBGP (from start)", "",
             g(f"ratio_ours_to_gobgp_{n}"), None, None],
            [f"bulk {n}: ratio ours/GoBGP (from established)", "<= 2" if n == "100k" else "",
             g(f"ratio_ours_to_gobgp_{n}_from_established"), None,
             verdict("ratio_to_gobgp") if n == "100k" else None],
            [f"bulk {n}: GoBGP, paths injected into an established session (s)", "",
             None, g(f"gobgp_{n}_inject_after_delivery_s"), None],
            [f"bulk {n}: UPDATE messages", "", g(f"bulk_{n}_updates"), g(f"gobgp_{n}_updates"),
             None],
            [f"bulk {n}: prefixes per UPDATE", ">= 500", g(f"bulk_{n}_prefixes_per_update"),
             g(f"gobgp_{n}_prefixes_per_update"), verdict(f"prefixes_per_update_{n}")],
            [f"bulk {n}: peak RSS (MB)", "<= 200" if n == "100k" else "",
             g(f"speaker_rss_{n}_peak_mb"), g(f"gobgp_rss_{n}_mb"),
             verdict("rss_100k") if n == "100k" else None],
        ]
    rows += [
        ["RSS with 10k pods cached (MB)", "<= 150", g("speaker_rss_10k_mb"), None,
         verdict("rss_10k")],
        ["latency API -> router p50 (ms)", "", lat.get("p50"), None, None],
        ["latency API -> router p99 (ms)", "<= 50", lat.get("p99"), None, verdict("latency_p99")],
        ["latency API -> router max (ms)", "", lat.get("max"), None, None],
        ["withdraw latency p99 (ms)", "", (g("latency_withdraw_ms") or {}).get("p99"), None,
         None],
        ["churn: max rate converging <= 1 s (/s)", "", g("churn_max_rate_per_s"), None, None],
        ["idle CPU, 10k pods (% of a core)", "<= 1", g("idle_cpu_percent"), None,
         verdict("idle_cpu")],
    ]
    return rows


# --------------------------------------------------------------------------- profiles


def summarize_collapsed(lines: Iterable[str], top: int = 15) -> dict[str, Any]:
    """Top functions of a collapsed-stack profile (``py-spy record --format raw``).

    Each line is ``frame;frame;...;leaf COUNT``.  Self time counts the leaf
    frame; inclusive time counts each distinct frame of a stack once.
    Returns {"samples", "self": [[frame, percent], ...], "inclusive": [...]}.
    """
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in lines:
        line = line.rstrip("\n")
        if not line or " " not in line:
            continue
        stack, _, count_text = line.rpartition(" ")
        try:
            count = int(count_text)
        except ValueError:
            continue
        frames = [f for f in stack.split(";") if f]
        if not frames:
            continue
        total += count
        own[frames[-1]] += count
        for frame in set(frames):
            inclusive[frame] += count
    if not total:
        return {"samples": 0, "self": [], "inclusive": []}

    def share(counter: Counter[str]) -> list[list[Any]]:
        return [[frame, round(100.0 * n / total, 1)] for frame, n in counter.most_common(top)]

    return {"samples": total, "self": share(own), "inclusive": share(inclusive)}
