"""A fast fixed-response HTTP/1.1 server for the replay benchmarks (asyncio, raw protocol).

``python benchmarks/replay_fastserver.py PORT [ARRIVALS.tsv]``: answers every request (GET, no
body) with ``200 ok`` on keep-alive connections. No parsing beyond finding the end of each
request head, so the server is not what limits the load generator. Its open-files limit is
raised to the hard maximum (a generator with several processes may hold thousands of keep-alive
connections). Prints ``ready`` once listening. With ARRIVALS.tsv it notes each request's
arrival (epoch ns, request line) and writes them there on SIGTERM.
"""

from __future__ import annotations

import asyncio
import resource
import signal
import sys
import time
from pathlib import Path

RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok"
END = b"\r\n\r\n"


ARRIVALS: list[tuple[int, bytes]] | None = None


class FixedResponse(asyncio.Protocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.pending = b""

    def data_received(self, data: bytes) -> None:
        now = time.time_ns()
        self.pending += data
        count = self.pending.count(END)
        if count:
            if ARRIVALS is not None:
                for head in self.pending.split(END)[:count]:
                    ARRIVALS.append((now, head.split(b"\r\n", 1)[0]))
            self.pending = self.pending[self.pending.rfind(END) + len(END) :]
            self.transport.write(RESPONSE * count)


async def serve(port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(FixedResponse, "127.0.0.1", port, backlog=4096)
    done = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, done.set)
    print("ready", flush=True)
    async with server:
        await done.wait()


def main() -> None:
    global ARRIVALS
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    log = Path(sys.argv[2]) if len(sys.argv) > 2 else None
    if log is not None:
        ARRIVALS = []
    asyncio.run(serve(int(sys.argv[1])))
    if log is not None and ARRIVALS is not None:
        log.write_text("".join(f"{t}\t{line.decode(errors='replace')}\n" for t, line in ARRIVALS))


if __name__ == "__main__":
    main()
