"""A TCP proxy on 127.0.0.1 that delays every chunk of data by a fixed time, each way.

    python bench/latency_proxy.py --target 127.0.0.1:5432 --delay-ms 10 --lifetime 1800

It prints ``port N`` once it listens, then forwards each connection to ``--target``, holding
each chunk ``--delay-ms`` before passing it on (so a round trip costs twice that). Chunks keep
their order. It exits by itself after ``--lifetime`` seconds, so a crashed benchmark never
leaves it behind.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys


async def _relay(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delay: float) -> None:
    """Copy ``reader`` to ``writer``, each chunk ``delay`` seconds after it arrived."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

    async def receive() -> None:
        while True:
            try:
                data = await reader.read(65536)
            except ConnectionError:
                data = b""
            queue.put_nowait((loop.time() + delay, data))
            if not data:
                return

    async def deliver() -> None:
        while True:
            due, data = await queue.get()
            wait = due - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            if not data:
                with contextlib.suppress(OSError):
                    writer.write_eof()
                return
            writer.write(data)
            try:
                await writer.drain()
            except ConnectionError:
                return

    await asyncio.gather(receive(), deliver())


async def _serve_connection(
    client_reader: asyncio.StreamReader,
    client_writer: asyncio.StreamWriter,
    target: tuple[str, int],
    delay: float,
) -> None:
    try:
        server_reader, server_writer = await asyncio.open_connection(*target)
    except OSError:
        client_writer.close()
        return
    try:
        await asyncio.gather(
            _relay(client_reader, server_writer, delay),
            _relay(server_reader, client_writer, delay),
        )
    finally:
        for writer in (client_writer, server_writer):
            writer.close()


async def serve(target: tuple[str, int], delay: float, lifetime: float, port: int) -> None:
    server = await asyncio.start_server(
        lambda r, w: _serve_connection(r, w, target, delay), host="127.0.0.1", port=port
    )
    print(f"port {server.sockets[0].getsockname()[1]}", flush=True)
    async with server:
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(server.serve_forever(), timeout=lifetime)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", required=True, help="HOST:PORT to forward to")
    parser.add_argument("--delay-ms", type=float, required=True, help="delay each way")
    parser.add_argument("--lifetime", type=float, default=1800, help="seconds before exiting")
    parser.add_argument("--port", type=int, default=0, help="port to listen on (0: any free)")
    args = parser.parse_args(argv)
    host, _, port = args.target.rpartition(":")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve((host, int(port)), args.delay_ms / 1000, args.lifetime, args.port))


if __name__ == "__main__":
    sys.exit(main())
