"""First figures: session set-up, N prefixes to a GoBGP peer, API write to router RIB.

Runs as root in network namespaces it makes (documentation addresses only),
with the real speaker, gobgpd and the emulated API server, and prints JSON.
The seed of ``make bench`` (issue 6), which will grow it into the full set.

    .venv/bin/python benchmarks/measure.py --pods 10000 --changes 100
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent / "tests" / "integration"), str(HERE.parent / "tests")]

from netlab import Lab, wait_for  # noqa: E402
from topology import build, speaker_peers  # noqa: E402


def pods(count: int) -> list[dict]:
    """*count* pods on one Cluster subnet (10.128.0.0/9), on node-b."""
    subnet = {
        "apiVersion": "kubeovn.io/v1", "kind": "Subnet",
        "metadata": {"name": "big", "annotations": {"ovn.kubernetes.io/bgp": "true"}},
        "spec": {"cidrBlock": "10.128.0.0/9", "provider": "ovn"},
        "status": {"conditions": [{"type": "Ready", "status": "True"}]},
    }  # fmt: skip
    out = [subnet]
    for i in range(count):
        ip = f"10.{128 + i // 65536}.{i // 256 % 256}.{i % 256}"
        out.append({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": f"p{i}", "namespace": "bench", "annotations": {
                "ovn.kubernetes.io/ip_address": ip,
                "ovn.kubernetes.io/logical_switch": "big"}},
            "spec": {"nodeName": "node-b"}, "status": {"phase": "Running"},
        })  # fmt: skip
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pods", type=int, default=10000)
    parser.add_argument("--changes", type=int, default=100)
    args = parser.parse_args()
    figures: dict[str, object] = {"pods": args.pods}
    with Lab() as lab, tempfile.TemporaryDirectory(prefix="rk-bench-") as tmp:
        topo = build(lab, Path(tmp), "gobgp")
        side = topo.sides[0]
        router = topo.router(side, speaker_peers(side)[:1], log_level="info")
        router.start()
        api = topo.cluster()
        api.load(pods(args.pods))
        spk = topo.speaker(neighbor_ipv6_address=None, verbose=False)
        start = time.monotonic()
        spk.start(wait=False)
        router.wait_established(side.speaker_v4, timeout=60)
        figures["session_established_s"] = round(time.monotonic() - start, 3)
        want = args.pods + 1
        router.wait_rib(lambda rib: len(rib) == want, timeout=600)
        figures[f"start_to_{want}_prefixes_in_router_s"] = round(time.monotonic() - start, 3)
        figures["updates_received_by_router"] = router.neighbor(side.speaker_v4)["raw"].get(
            "state", {}).get("messages", {}).get("received", {}).get("update")

        latencies = []
        with router.monitor("ipv4") as seen:
            for i in range(args.changes):
                name = f"extra{i}"
                prefix = f"10.{200 + i // 65536}.{i // 256 % 256}.{i % 256}/32"
                pod = pods(1)[1]
                pod["metadata"]["name"] = name
                pod["metadata"]["annotations"]["ovn.kubernetes.io/ip_address"] = prefix[:-3]
                t0 = time.time()
                api.create(pod)
                wait_for(lambda p=prefix: seen.announcements(p), timeout=30, interval=0.001)
                latencies.append((seen.announcements(prefix)[0].timestamp - t0) * 1000)
        latencies.sort()
        figures["api_write_to_router_ms"] = {
            "n": len(latencies),
            "p50": round(statistics.median(latencies), 1),
            "p99": round(latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))], 1),
            "max": round(latencies[-1], 1),
        }
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
