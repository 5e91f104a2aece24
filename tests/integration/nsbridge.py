"""Relay TCP <-> unix socket, to reach the emulated API server from a namespace.

The speaker runs in its own network namespace, whose loopback is not the test
host's; the filesystem is shared, though.  One relay in the root namespace
serves a unix socket and connects to the API server on 127.0.0.1; another in
the speaker's namespace listens on its own 127.0.0.1 and connects to that
socket.  Nothing leaves loopback.

    python nsbridge.py --listen unix:/tmp/x.sock --connect tcp:127.0.0.1:8443
    python nsbridge.py --listen tcp:127.0.0.1:6443 --connect unix:/tmp/x.sock
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import signal


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        with contextlib.suppress(Exception):
            writer.close()


async def _open(target: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    kind, _, where = target.partition(":")
    if kind == "unix":
        return await asyncio.open_unix_connection(where)
    host, _, port = where.rpartition(":")
    return await asyncio.open_connection(host, int(port))


async def _serve(listen: str, connect: str) -> None:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await _open(connect)
        except OSError:
            writer.close()
            return
        await asyncio.gather(_pump(reader, up_writer), _pump(up_reader, writer))

    kind, _, where = listen.partition(":")
    if kind == "unix":
        server = await asyncio.start_unix_server(handle, where)
    else:
        host, _, port = where.rpartition(":")
        server = await asyncio.start_server(handle, host, int(port), reuse_address=True)
    print("ready", flush=True)
    async with server:
        await server.serve_forever()


def _die_with_parent() -> None:
    """Linux PR_SET_PDEATHSIG: end with the test process, even if it is killed."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)


def main() -> None:
    _die_with_parent()
    parser = argparse.ArgumentParser()
    parser.add_argument("--listen", required=True)
    parser.add_argument("--connect", required=True)
    args = parser.parse_args()
    asyncio.run(_serve(args.listen, args.connect))


if __name__ == "__main__":
    main()
