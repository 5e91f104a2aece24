"""Churn soak: many pods, a steady rate of changes, faults in the middle.

The driver writes pods through the emulated API server at a fixed rate
(create, delete, annotate, de-annotate, Succeed), drops the API streams twice
and restarts the router once half-way, then waits for the router's RIB to
settle and compares it with the wanted set computed from what it wrote: a pod
is wanted when it exists, carries ``ovn.kubernetes.io/bgp: "true"`` and has not
finished (its subnet is not annotated, so only the pod's own annotation
counts).  ``lost`` are wanted prefixes missing at the router, ``leaked``
prefixes the router has that nothing wants.

    .venv/bin/python tests/integration/soak.py --pods 10000 --rate 200 --seconds 60
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]

from cluster_objects import pod, subnet  # noqa: E402
from netlab import Lab, wait_for  # noqa: E402
from topology import build, speaker_peers  # noqa: E402

BGP = "ovn.kubernetes.io/bgp"
NAMESPACE = "soak"


def _ip(i: int) -> str:
    return f"10.{64 + i // 65536}.{i // 256 % 256}.{i % 256}"


def _pod(i: int, annotated: bool) -> dict[str, Any]:
    return pod(f"p{i}", _ip(i), "soak", node="node-b", bgp="true" if annotated else None,
               restart="Never", namespace=NAMESPACE)  # fmt: skip


SUBNET = subnet("soak", "10.64.0.0/10")


@dataclass
class Truth:
    """What the driver wrote: pod index -> (annotated, finished)."""

    pods: dict[int, tuple[bool, bool]] = field(default_factory=dict)

    def wanted(self) -> set[str]:
        return {f"{_ip(i)}/32" for i, (ann, done) in self.pods.items() if ann and not done}


def _operation(api: Any, truth: Truth, rng: random.Random, next_index: list[int]) -> str:
    live = [i for i, (_, done) in truth.pods.items() if not done]
    kind = rng.choice(["create", "delete", "annotate", "deannotate", "succeed"])
    if kind == "create" or not live:
        i = next_index[0]
        next_index[0] += 1
        annotated = rng.random() < 0.5
        api.create(_pod(i, annotated))
        truth.pods[i] = (annotated, False)
        return "create"
    i = rng.choice(live)
    name = f"p{i}"
    annotated, _ = truth.pods[i]
    if kind == "delete":
        api.delete("Pod", name, namespace=NAMESPACE)
        del truth.pods[i]
    elif kind == "annotate":
        api.annotate("Pod", name, namespace=NAMESPACE, annotations={BGP: "true"})
        truth.pods[i] = (True, False)
    elif kind == "deannotate":
        api.annotate("Pod", name, namespace=NAMESPACE, annotations={BGP: None})
        truth.pods[i] = (False, False)
    else:
        api.patch_status("Pod", name, namespace=NAMESPACE, status={"phase": "Succeeded"})
        truth.pods[i] = (annotated, True)
    return kind


def run(pods: int, rate: float, seconds: float, workdir: Path, seed: int = 7) -> dict[str, Any]:
    rng = random.Random(seed)
    with Lab() as lab:
        topo = build(lab, workdir, "gobgp")
        side = topo.sides[0]
        router = topo.router(side, speaker_peers(side)[:1], log_level="info")
        router.start()
        api = topo.cluster()
        truth = Truth({i: (i % 2 == 0, False) for i in range(pods)})
        api.load([SUBNET] + [_pod(i, ann) for i, (ann, _) in truth.pods.items()])
        spk = topo.speaker(neighbor_ipv6_address=None, verbose=False)
        spk.start()
        router.wait_established(side.speaker_v4, timeout=60)
        wait_for(lambda: len(router.rib("ipv4")) == len(truth.wanted()), timeout=300,
                 interval=0.5, message="initial table never reached the router")  # fmt: skip

        next_index = [pods]
        counts: dict[str, int] = {}
        faults = {0.3: "drop", 0.5: "router-restart", 0.7: "drop"}
        started = time.monotonic()
        done_ops = 0
        while (elapsed := time.monotonic() - started) < seconds:
            for mark in [m for m in faults if elapsed >= m * seconds]:
                what = faults.pop(mark)
                if what == "drop":
                    api.admin.drop_watches()
                else:
                    router.restart()
                counts[f"fault:{what}"] = counts.get(f"fault:{what}", 0) + 1
            kind = _operation(api, truth, rng, next_index)
            counts[kind] = counts.get(kind, 0) + 1
            done_ops += 1
            # Pace to the rate: the next operation is due at done_ops / rate.
            delay = started + done_ops / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        load_s = time.monotonic() - started

        router.wait_established(side.speaker_v4, timeout=60)
        wanted = truth.wanted()
        settle_started = time.monotonic()
        try:
            wait_for(lambda: set(router.rib("ipv4")) == wanted, timeout=120, interval=0.5,
                     message="router RIB never matched the wanted set")  # fmt: skip
        except AssertionError:
            pass  # reported below as lost/leaked
        settled_s = time.monotonic() - settle_started
        rib = set(router.rib("ipv4"))
        speaker_wanted = {row["prefix"] for row in spk.ctl("announcements")}
        return {
            "pods_cached": pods,
            "rate_per_s": rate,
            "seconds": seconds,
            "operations": done_ops,
            "achieved_rate_per_s": round(done_ops / load_s, 1),
            "counts": counts,
            "wanted": len(wanted),
            "router_prefixes": len(rib),
            "lost": len(wanted - rib),
            "leaked": len(rib - wanted),
            "speaker_disagrees_with_truth": len(speaker_wanted ^ wanted),
            "settle_seconds": round(settled_s, 2),
            "examples_lost": sorted(wanted - rib)[:5],
            "examples_leaked": sorted(rib - wanted)[:5],
        }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pods", type=int, default=10000)
    parser.add_argument("--rate", type=float, default=200)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="rk-soak-") as tmp:
        result = run(args.pods, args.rate, args.seconds, Path(tmp))
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")
    sys.exit(0 if result["lost"] == 0 and result["leaked"] == 0 else 1)


if __name__ == "__main__":
    main()
