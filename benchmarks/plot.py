"""The PNG of ``make bench``: delivery curves, latency distribution, churn, RSS.

``render(results, path)`` draws from ``results["series"]`` (what bench.py
recorded), so a saved latest.json can be re-plotted:

    .venv/bin/python benchmarks/plot.py benchmarks/results/latest.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt


def _delivery(ax: Any, series: dict[str, Any], n: str, results: dict[str, Any]) -> None:
    drawn = False
    for key, text, style in ((f"ours_{n}", "ryu-kovn (from process start)", "-"),
                             (f"gobgp_{n}", "GoBGP (from process start)", "--"),
                             (f"gobgp_{n}_inject_after", "GoBGP, into an established "
                              "session (from first AddPath)", ":")):
        curve = series.get(key)
        if not curve:
            continue
        xs, ys = zip(*curve, strict=True)
        line = ax.plot(xs, ys, style, label=text)[0]
        est = series.get(f"{key}_established_s")
        if est is not None:
            ax.axvline(est, color=line.get_color(), alpha=0.4, linewidth=0.8)
        drawn = True
    if not drawn:
        ax.text(0.5, 0.5, f"not measured at scale {(results.get('meta') or {}).get('scale')}",
                ha="center", va="center", transform=ax.transAxes)
    want = results.get(f"bulk_{n}_prefixes")
    if want:
        ax.axhline(want, color="grey", alpha=0.3, linewidth=0.8)
    if n == "100k":
        ax.axvline(10, color="red", alpha=0.4, linestyle="--", linewidth=0.8,
                   label="target 10 s")
    ax.set_title(f"bulk {n}: prefixes at the router (thin lines: session up)")
    ax.set_xlabel("s")
    ax.set_ylabel("prefixes accepted")
    if drawn:
        ax.legend(fontsize=7, loc="lower right")


def _latency(ax_cdf: Any, ax_hist: Any, series: dict[str, Any]) -> None:
    for key, text in (("latency_ms", "announce (create)"),
                      ("latency_withdraw_ms", "withdraw (delete)")):
        values = sorted(series.get(key) or [])
        if not values:
            continue
        ys = [(i + 1) / len(values) for i in range(len(values))]
        ax_cdf.plot(values, ys, label=f"{text}, n={len(values)}")
        ax_hist.hist(values, bins=50, alpha=0.6, label=text)
    for ax in (ax_cdf, ax_hist):
        ax.axvline(50, color="red", alpha=0.4, linestyle="--", linewidth=0.8,
                   label="target p99 50 ms")
        ax.set_xlabel("API write -> router RIB (ms)")
        ax.legend(fontsize=7)
    ax_cdf.axhline(0.99, color="grey", alpha=0.3, linewidth=0.8)
    ax_cdf.set_xlim(left=0)
    ax_cdf.set_ylabel("fraction of changes")
    ax_cdf.set_title("latency CDF (10k pods cached)")
    ax_hist.set_title("latency histogram")
    ax_hist.set_ylabel("changes")


def _churn(ax: Any, results: dict[str, Any]) -> None:
    steps = results.get("churn_steps") or []
    if steps:
        xs = [s.get("achieved_per_s") or 0 for s in steps]
        ys = [s["converge_s"] if s.get("converge_s") is not None else 10 for s in steps]
        colors = ["tab:green" if s.get("pass") else "tab:red" for s in steps]
        ax.scatter(xs, ys, c=colors)
        for x, y, s in zip(xs, ys, steps, strict=True):
            note = "" if s.get("converge_s") is not None else ", not converged in 10 s"
            ax.annotate(f"{s['offered_per_s']}/s offered{note}", (x, y), fontsize=6,
                        xytext=(3, 3), textcoords="offset points", ha="right")
        ax.set_xscale("log")
    ax.axhline(1.0, color="red", alpha=0.4, linestyle="--", linewidth=0.8, label="1 s")
    ax.set_title("churn: RIB exact after the load stops")
    ax.set_xlabel("changes per second achieved")
    ax.set_ylabel("convergence after last write (s)")
    ax.legend(fontsize=7)


def _rss(ax: Any, series: dict[str, Any]) -> None:
    for n in ("10k", "100k"):
        curve = series.get(f"ours_{n}_rss_mb")
        if curve:
            xs, ys = zip(*curve, strict=True)
            ax.plot(xs, ys, label=f"bulk {n}")
    ax.axhline(200, color="red", alpha=0.4, linestyle="--", linewidth=0.8, label="200 MB")
    ax.axhline(150, color="orange", alpha=0.4, linestyle="--", linewidth=0.8, label="150 MB")
    ax.set_title("speaker RSS during cold start")
    ax.set_xlabel("s since process start")
    ax.set_ylabel("MB")
    ax.legend(fontsize=7)


def render(results: dict[str, Any], path: Path) -> None:
    series = results.get("series") or {}
    fig, axes = plt.subplots(2, 3, figsize=(18, 10))
    _delivery(axes[0][0], series, "100k", results)
    _delivery(axes[0][1], series, "10k", results)
    _rss(axes[0][2], series)
    _latency(axes[1][0], axes[1][1], series)
    _churn(axes[1][2], results)
    meta = results.get("meta") or {}
    fig.suptitle(f"ryu-kovn bench ({meta.get('scale')}): {meta.get('commit', '')} "
                 f"- {meta.get('started_at', '')}", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


if __name__ == "__main__":
    source = Path(sys.argv[1] if len(sys.argv) > 1 else "benchmarks/results/latest.json")
    render(json.loads(source.read_text()), source.with_suffix(".png"))
