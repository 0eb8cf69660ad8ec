"""CPU cost of the request path without sockets: feed a node's client pipelined chunks
as redis-benchmark sends them and time the Python work per command.

    python bench/hotpath.py [--profile] [--n 200000] [--pipeline 16] [--device] [--keys 1]
                            [--only EVALSHA,GET]

This is a profiling aid for the hot path (parse, dispatch, engine, encode); the
throughput figures that count are the redis-benchmark ones in bench/redis_compare.py.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import tempfile
import time

import uvloop

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
    # bench/scripting_bench.py's script (GET then INCR of KEYS[1]), loaded first
    "EVALSHA": [b"EVALSHA", b"596ac8714549488e4f0ff39d4f511803f954328d", b"1", b"key"],
}
SCRIPT = b"local v = redis.call('get', KEYS[1]) return redis.call('incr', KEYS[1])"


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


async def run(
    n: int, pipeline: int, profile: bool, device: bool, keys: int, only: list[str]
) -> None:
    data_dir = tempfile.mkdtemp(prefix="respike-hot-")
    toml = (
        {"namespaces": {"test": {"storage-engine": "device", "file-size": "2G"}}} if device else {}
    )
    node = Node(build_config(toml, {"data-dir": data_dir}))
    await node._start_storage()
    node.server.loop = asyncio.get_running_loop()  # what RespServer.start binds
    client = Client(node.server)
    client.connection_made(NullTransport())
    node.scripts.load(SCRIPT)
    for name, args in WORKLOADS.items():
        if only and name not in only:
            continue
        chunks = _chunks(args, pipeline, keys)
        feed, flush = client.data_received, node.server.flush_all
        rounds = n // pipeline
        if profile:
            import cProfile

            with cProfile.Profile() as prof:
                await _rounds(feed, flush, chunks, rounds)
            prof.print_stats("tottime")
            continue
        best = float("inf")
        for _ in range(
            5
        ):  # CPU time (the device writer thread's too), best of 5: the machine is shared
            start = time.process_time()
            await _rounds(feed, flush, chunks, rounds)
            best = min(best, time.process_time() - start)
        print(f"{name:5s} P{pipeline}: {best / (rounds * pipeline) * 1e9:7.0f} ns/command")
    for ns in node.engine.namespaces.values():
        ns.storage.close(checkpoint=False) if device else None
    shutil.rmtree(data_dir, ignore_errors=True)


def _chunks(args: list[bytes], pipeline: int, keys: int) -> list[bytes]:
    """What redis-benchmark -r KEYS sends: `pipeline` commands per read, keys in turn."""
    if keys <= 1:
        return [encode_command(args) * pipeline]
    return [
        b"".join(
            encode_command(
                [a.replace(b"__rand_int__", b"%012d" % ((r * pipeline + j) % keys)) for a in args]
            )
            for j in range(pipeline)
        )
        for r in range(-(-keys // pipeline))
    ]


async def _rounds(feed, flush, chunks: list[bytes], rounds: int) -> None:
    """One read per round, then what the loop does before it polls again."""
    for i in range(rounds):
        feed(chunks[i % len(chunks)])
        flush()  # RespServer.flush_later's callback
        if not i & 7:
            await asyncio.sleep(0)  # let the device writer, defrag and syncs run


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=200_000)
    parser.add_argument("--pipeline", type=int, default=16)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument(
        "--device", action="store_true", help="a device namespace (file in a temp dir)"
    )
    parser.add_argument(
        "--keys",
        type=int,
        default=1,
        help="distinct keys, as redis-benchmark -r (with --device the tight loop can outrun defrag)",
    )
    parser.add_argument("--only", default="", help="workloads to run, e.g. EVALSHA,GET")
    args = parser.parse_args()
    only = [w.upper() for w in args.only.split(",") if w]
    uvloop.run(
        run(args.n, args.pipeline, args.profile, args.device, args.keys, only)
    )  # as the server


if __name__ == "__main__":
    main()
