"""A small TCP proxy for link faults between a box and the broker (tc/netem does not work here).

    proxy = FaultProxy("127.0.0.1", broker.port).start()   # box connects to proxy.port
    proxy.blackhole()   # bytes vanish both ways; connections stay open (a dead 3G link)
    proxy.one_way()     # box → broker passes, broker → box vanishes (lost acknowledgements)
    proxy.cut()         # close every connection now (a reset link); new ones still pass
    proxy.restore()     # pass again; connections black-holed before are closed
    proxy.stop()

It runs its own asyncio loop in a daemon thread, so tests drive it from ordinary code.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from dataclasses import dataclass

PASS, BLACKHOLE, ONE_WAY = "pass", "blackhole", "one_way"


@dataclass(eq=False)
class _Pair:
    client: asyncio.StreamWriter
    upstream: asyncio.StreamWriter | None = None
    drop_up: bool = False  # box → broker bytes vanish
    drop_down: bool = False  # broker → box bytes vanish

    @property
    def blackholed(self) -> bool:
        return self.drop_up and self.drop_down

    @property
    def damaged(self) -> bool:
        return self.drop_up or self.drop_down

    def close(self) -> None:
        for writer in (self.client, self.upstream):
            if writer is not None:
                with contextlib.suppress(Exception):
                    writer.transport.abort()


class FaultProxy:
    def __init__(self, target_host: str, target_port: int, host: str = "127.0.0.1"):
        self.target = (target_host, target_port)
        self.host = host
        self.port = 0
        self.mode = PASS
        self.connections_seen = 0
        self._pairs: set[_Pair] = set()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.AbstractServer | None = None

    # -- control (from the test's thread) ---------------------------------------------------

    def start(self) -> FaultProxy:
        self._thread.start()
        self._call(self._listen())
        return self

    def stop(self) -> None:
        if not self._thread.is_alive():
            return
        self._call(self._shutdown())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    def blackhole(self) -> None:
        self._call(self._set_mode(BLACKHOLE))

    def one_way(self) -> None:
        self._call(self._set_mode(ONE_WAY))

    def restore(self) -> None:
        self._call(self._set_mode(PASS))

    def cut(self) -> None:
        self._call(self._cut())

    def _call(self, coro):
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(10)

    # -- inside the loop ----------------------------------------------------------------------

    async def _listen(self) -> None:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        self.port = sock.getsockname()[1]
        self._server = await asyncio.start_server(self._handle, sock=sock)

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
        await self._cut()
        # Let every connection's handler end here, not be destroyed pending with the loop.
        handlers = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in handlers:
            task.cancel()
        await asyncio.gather(*handlers, return_exceptions=True)

    async def _set_mode(self, mode: str) -> None:
        self.mode = mode
        for pair in list(self._pairs):
            if mode == PASS:
                if pair.damaged:  # bytes were lost: that stream cannot resume
                    pair.close()
                    self._pairs.discard(pair)
            else:
                pair.drop_down = True
                pair.drop_up = pair.drop_up or mode == BLACKHOLE

    async def _cut(self) -> None:
        for pair in list(self._pairs):
            pair.close()
        self._pairs.clear()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections_seen += 1
        lost = self.mode == BLACKHOLE
        pair = _Pair(writer, drop_up=lost, drop_down=lost or self.mode == ONE_WAY)
        self._pairs.add(pair)
        if pair.blackholed:  # the SYN would never have reached the broker: swallow everything
            with contextlib.suppress(Exception):
                while await reader.read(65536):
                    pass
            pair.close()
            self._pairs.discard(pair)
            return
        try:
            up_reader, pair.upstream = await asyncio.open_connection(*self.target)
        except OSError:
            pair.close()
            self._pairs.discard(pair)
            return
        await asyncio.gather(
            self._pump(pair, reader, pair.upstream, upstream=True),
            self._pump(pair, up_reader, writer, upstream=False),
            return_exceptions=True,
        )
        pair.close()
        self._pairs.discard(pair)

    @staticmethod
    async def _pump(
        pair: _Pair, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, upstream: bool
    ) -> None:
        try:
            while data := await reader.read(65536):
                if not (pair.drop_up if upstream else pair.drop_down):
                    writer.write(data)
                    await writer.drain()
        finally:
            pair.close()
