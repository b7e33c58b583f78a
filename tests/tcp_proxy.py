"""A TCP proxy on 127.0.0.1 for tests: latency, a server that stops answering, a dropped
connection. Self-contained (standard library only); it runs in a thread of the test process.

    with TcpProxy("127.0.0.1", 5432, delay=0.005) as proxy:
        url = f"postgresql+psycopg://postgres@127.0.0.1:{proxy.port}/test"
        ...
        proxy.freeze()            # every connection, open or new, stops passing data on
        proxy.freeze(new=False)   # only the connections open now stop; new ones work
        proxy.thaw()
        proxy.drop()              # close every open connection (the client sees EOF)

``delay`` holds each chunk that long before passing it on, each way (a round trip costs twice
that); ``jitter`` adds a random extra of up to that many seconds per connection. Chunks keep
their order.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import threading
from typing import Any


class _Link:
    """One client connection and its server connection."""

    def __init__(self, frozen: bool) -> None:
        self.flowing = asyncio.Event()
        if not frozen:
            self.flowing.set()
        self.writers: list[asyncio.StreamWriter] = []

    def close(self) -> None:
        for writer in self.writers:
            with contextlib.suppress(Exception):
                writer.transport.abort()


class TcpProxy:
    def __init__(
        self, host: str, port: int, *, delay: float = 0.0, jitter: float = 0.0, seed: int = 0
    ) -> None:
        self.target = (host, port)
        self.delay = delay
        self.jitter = jitter
        self.random = random.Random(seed)
        self.port = 0
        self.connections = 0  # accepted so far
        self._frozen_new = False
        self._links: list[_Link] = []
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.AbstractServer | None = None

    # ------------------------------------------------------------------ control

    def start(self) -> TcpProxy:
        self._thread.start()
        self._server = self._call(self._listen())
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def freeze(self, *, new: bool = True) -> None:
        """Stop passing data on for the open connections (and new ones, with ``new``)."""

        def freeze() -> None:
            self._frozen_new = new
            for link in self._links:
                link.flowing.clear()

        self._run_in_loop(freeze)

    def thaw(self) -> None:
        def thaw() -> None:
            self._frozen_new = False
            for link in self._links:
                link.flowing.set()

        self._run_in_loop(thaw)

    def drop(self) -> None:
        """Close every open connection, both ways."""

        def drop() -> None:
            for link in self._links:
                link.close()
            self._links.clear()

        self._run_in_loop(drop)

    def close(self) -> None:
        async def shut_down() -> None:
            if self._server is not None:
                self._server.close()
            for link in self._links:
                link.close()
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        if self._thread.is_alive():
            self._call(shut_down())
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
        self._loop.close()

    def __enter__(self) -> TcpProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ inside the loop

    def _call(self, coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout=10)

    def _run_in_loop(self, fn: Any) -> None:
        async def run() -> None:
            fn()

        self._call(run())

    async def _listen(self) -> asyncio.AbstractServer:
        return await asyncio.start_server(self._serve, host="127.0.0.1", port=0)

    async def _serve(
        self, client_reader: asyncio.StreamReader, client: asyncio.StreamWriter
    ) -> None:
        self.connections += 1
        link = _Link(frozen=self._frozen_new)
        link.writers.append(client)
        self._links.append(link)
        delay = self.delay + self.random.uniform(0, self.jitter)
        try:
            server_reader, server = await asyncio.open_connection(*self.target)
        except OSError:
            client.close()
            return
        link.writers.append(server)
        try:
            await asyncio.gather(
                self._relay(client_reader, server, link, delay),
                self._relay(server_reader, client, link, delay),
            )
        finally:
            link.close()
            if link in self._links:
                self._links.remove(link)

    async def _relay(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        link: _Link,
        delay: float,
    ) -> None:
        queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

        async def receive() -> None:
            while True:
                try:
                    data = await reader.read(65536)
                except (ConnectionError, OSError):
                    data = b""
                queue.put_nowait((self._loop.time() + delay, data))
                if not data:
                    return

        async def deliver() -> None:
            while True:
                due, data = await queue.get()
                wait = due - self._loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                await link.flowing.wait()
                if not data:
                    with contextlib.suppress(OSError):
                        writer.write_eof()
                    return
                writer.write(data)
                try:
                    await writer.drain()
                except (ConnectionError, OSError):
                    return

        await asyncio.gather(receive(), deliver())
