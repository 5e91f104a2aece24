"""``python -m tests.kubeapi``: run the Kubernetes API emulator as a standalone process.

The demo script and the tests start exactly this, so both exercise the same server the
speaker talks to. Readiness is signalled by the port file (written last, atomically), which
lets ``--port 0`` pick a free port without a race.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import os
import signal
import sys
import threading

from .loading import load_file
from .resources import kubeconfig_doc
from .server import Config, EmulatorServer


def _write_atomically(path: str, text: str) -> None:
    tmp = f"{path}.tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.replace(tmp, path)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tests.kubeapi",
        description="Kubernetes API server emulator for tests (loopback only, no TLS/auth).")
    parser.add_argument("--host", default="127.0.0.1",
                        help="loopback address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0,
                        help="port; 0 picks a free one (see --port-file)")
    parser.add_argument("--load", action="append", default=[], metavar="FILE",
                        help="YAML/JSON objects to load at start-up (repeatable); "
                             "CustomResourceDefinitions in them register resource types")
    parser.add_argument("--port-file", help="write the bound port here once serving")
    parser.add_argument("--kubeconfig-out", help="write a kubeconfig pointing here")
    parser.add_argument("--state-file",
                        help="restore state from this file if it exists (then --load is "
                             "skipped); save it on SIGTERM/SIGINT and /_emulator/shutdown")
    parser.add_argument("--bookmark-interval", type=float, default=1.0,
                        help="seconds between periodic BOOKMARK events (<= 0: never)")
    parser.add_argument("--max-events", type=int, default=10000,
                        help="watch history kept; older resourceVersions get 410 Gone")
    parser.add_argument("--strict-namespaces", action="store_true",
                        help="refuse namespaced writes into a namespace that does not exist")
    parser.add_argument("--too-large-wait", type=float, default=3.0,
                        help="seconds a request for a future resourceVersion waits")
    parser.add_argument("--exit-on-stdin-eof", action="store_true",
                        help="stop when stdin closes: a test harness that dies (even by "
                             "SIGKILL) takes its server with it instead of leaving an orphan")
    parser.add_argument("--access-log", action="store_true", help="log every request")
    parser.add_argument("--log-level", default="INFO")
    return parser


async def _serve(args: argparse.Namespace) -> int:
    config = Config(host=args.host, port=args.port, bookmark_interval=args.bookmark_interval,
                    max_events=args.max_events, strict_namespaces=args.strict_namespaces,
                    state_file=args.state_file, too_large_wait=args.too_large_wait,
                    access_log=args.access_log)
    server = EmulatorServer(config)
    log = logging.getLogger("kubeapi")
    if server.restore_state():
        log.info("restored state from %s (resourceVersion %d)", args.state_file,
                 server.store.rv)
    else:
        for path in args.load:
            loaded = server.store.load(load_file(path))
            log.info("loaded %d objects from %s", len(loaded), path)
    gc.freeze()  # the fixture stays: later collections need not walk it
    await server.start()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, server.request_stop)
    if args.exit_on_stdin_eof:
        def watch_parent() -> None:
            sys.stdin.buffer.read()  # returns at EOF: the parent closed the pipe or died
            loop.call_soon_threadsafe(server.request_stop)

        threading.Thread(target=watch_parent, name="stdin-eof", daemon=True).start()
    if args.kubeconfig_out:
        _write_atomically(args.kubeconfig_out, kubeconfig_doc(server.url))
    if args.port_file:
        _write_atomically(args.port_file, f"{server.port}\n")
    print(f"kubeapi emulator listening on {server.url}", flush=True)
    await server.wait_stopped()
    log.info("stopped")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return asyncio.run(_serve(args))
    except ValueError as exc:  # e.g. a non-loopback --host
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
