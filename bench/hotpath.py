"""CPU cost of the request path without sockets: feed a node's client pipelined chunks
as redis-benchmark sends them and time the Python work per command.

    python bench/hotpath.py [--profile] [--n 200000]

This is a profiling aid for the hot path (parse, dispatch, engine, encode); the
throughput figures that count are the redis-benchmark ones in bench/redis_compare.py.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from respike.config import build_config  # noqa: E402
from respike.node import Node  # noqa: E402
from respike.resp.client import Client  # noqa: E402
from respike.resp.reader import encode_command  # noqa: E402

WORKLOADS = {
    "SET": [b"SET", b"key:__rand_int__", b"xxx"],
    "GET": [b"GET", b"key:__rand_int__"],
    "INCR": [b"INCR", b"counter:__rand_int__"],
    "HSET": [b"HSET", b"myhash", b"element:__rand_int__", b"xxx"],
}


class NullTransport:
    def write(self, data: bytes) -> None:
        pass

    def get_extra_info(self, name: str, default=None):
        return ("127.0.0.1", 1)

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def close(self) -> None:
        pass


def run(n: int, pipeline: int, profile: bool) -> None:
    data_dir = tempfile.mkdtemp(prefix="respike-hot-")
    node = Node(build_config({}, {"data-dir": data_dir}))
    client = Client(node.server)
    client.connection_made(NullTransport())
    for name, args in WORKLOADS.items():
        chunk = encode_command(args) * pipeline
        feed, flush = client.data_received, node.server.flush_all
        feed(chunk)
        flush()
        rounds = n // pipeline
        if profile:
            import cProfile

            cProfile.runctx("for _ in range(rounds): feed(chunk); flush()", globals(), locals(),
                            sort="tottime")
            continue
        best = float("inf")
        for _ in range(5):  # CPU time, best of 5: the machine is shared
            start = time.process_time()
            for _ in range(rounds):
                feed(chunk)
                flush()  # what the loop does once per iteration (RespServer.flush_later)
            best = min(best, time.process_time() - start)
        print(f"{name:5s} P{pipeline}: {best / (rounds * pipeline) * 1e9:7.0f} ns/command")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=200_000)
    parser.add_argument("--pipeline", type=int, default=16)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    async def in_loop() -> None:  # replies are written from the running loop
        run(args.n, args.pipeline, args.profile)

    asyncio.run(in_loop())


if __name__ == "__main__":
    main()
