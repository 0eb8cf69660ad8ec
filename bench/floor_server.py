"""The floor: a bare uvloop + hiredis server that answers GET with a constant and anything
else with +PONG. Run it and point redis-benchmark at it to see what the event loop and the
parser alone cost here, next to respike and redis-server.

    python bench/floor_server.py PORT
"""

import asyncio
import sys

import hiredis
import uvloop


class Floor(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport = transport
        self.reader = hiredis.Reader()

    def data_received(self, data):
        reader = self.reader
        reader.feed(data)
        out = []
        while (cmd := reader.gets()) is not False:
            out.append(b"$3\r\nxxx\r\n" if cmd[0] == b"GET" else b"+PONG\r\n")
        self.transport.write(b"".join(out))


async def main(port: int) -> None:
    server = await asyncio.get_running_loop().create_server(Floor, "127.0.0.1", port, backlog=511)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    uvloop.run(main(int(sys.argv[1])))
