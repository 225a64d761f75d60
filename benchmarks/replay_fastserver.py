"""A fast fixed-response HTTP/1.1 server for the replay benchmarks (asyncio, raw protocol).

``python benchmarks/replay_fastserver.py PORT``: answers every request (GET, no body) with
``200 ok`` on keep-alive connections. No parsing beyond finding the end of each request head, so
the server is not what limits the load generator. Prints ``ready`` once listening.
"""

from __future__ import annotations

import asyncio
import sys

RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok"
END = b"\r\n\r\n"


class FixedResponse(asyncio.Protocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.pending = b""

    def data_received(self, data: bytes) -> None:
        self.pending += data
        count = self.pending.count(END)
        if count:
            self.pending = self.pending[self.pending.rfind(END) + len(END) :]
            self.transport.write(RESPONSE * count)


async def serve(port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(FixedResponse, "127.0.0.1", port, backlog=4096)
    print("ready", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(serve(int(sys.argv[1])))
