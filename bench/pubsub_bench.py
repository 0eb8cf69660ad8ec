"""Pub/sub throughput, respike against redis-server side by side in one run.

For each fan-out (1 and 50 subscribers by default) a publisher process pipelines PUBLISH
(`--pipeline` commands in flight) to one channel for `--seconds`, while a subscriber
process reads every subscriber connection; messages delivered per second (counted by the
subscribers), publishes per second and the server's CPU time per delivered message are
printed for both servers, with the ratios. Servers alternate, `--reps` times each.

    python bench/pubsub_bench.py [--subscribers 1,50] [--seconds 5] [--pipeline 100]
                                 [--payload 16] [--reps 2]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import selectors
import socket
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from common import cpu_seconds, start_redis, stop_redis  # noqa: E402

from respike.process import NodeProcess  # noqa: E402

CHANNEL = b"bench"


def command(*args: bytes) -> bytes:
    return b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args)


def frame_size(payload: int) -> int:
    """Bytes of one RESP2 message frame on CHANNEL."""
    return len(
        b"*3\r\n$7\r\nmessage\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n"
        % (len(CHANNEL), CHANNEL, payload, b"x" * payload)
    )


def subscribe_all(port: int, n: int) -> list[socket.socket]:
    socks = []
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(command(b"SUBSCRIBE", CHANNEL))
        want = b"*3\r\n$9\r\nsubscribe\r\n$%d\r\n%s\r\n:1\r\n" % (len(CHANNEL), CHANNEL)
        got = b""
        while len(got) < len(want):
            got += s.recv(4096)
        assert got == want, got
        socks.append(s)
    return socks


def subscribers(port: int, n: int, ready, stop, result) -> None:
    """Read every subscriber connection until `stop`; report bytes received."""
    socks = subscribe_all(port, n)
    sel = selectors.DefaultSelector()
    for s in socks:
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ)
    ready.set()
    total = 0
    quiet_since = None
    while True:
        events = sel.select(0.05)
        for key, _ in events:
            try:
                total += len(key.fileobj.recv(1 << 20))
            except BlockingIOError:
                pass
        if stop.is_set():  # drain what is still in flight, then stop
            if events:
                quiet_since = None
            elif quiet_since is None:
                quiet_since = time.monotonic()
            elif time.monotonic() - quiet_since > 0.3:
                break
    result.put(total)
    for s in socks:
        s.close()


def publisher(port: int, seconds: float, pipeline: int, payload: int, result) -> None:
    """Publish in windows of `pipeline` commands for `seconds`; report how many."""
    s = socket.create_connection(("127.0.0.1", port))
    batch = command(b"PUBLISH", CHANNEL, b"x" * payload) * pipeline
    sent = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        s.sendall(batch)
        lines = 0
        while lines < pipeline:  # every reply is one ':n\r\n' line
            lines += s.recv(1 << 16).count(b"\n")
        sent += pipeline
    result.put(sent)
    s.close()


def run_once(port: int, pid: int, subs: int, seconds: float, pipeline: int, payload: int):
    """(delivered per second, published per second, server CPU µs per delivered message)."""
    ctx = mp.get_context("fork")
    ready, stop = ctx.Event(), ctx.Event()
    got, sent = ctx.Queue(), ctx.Queue()
    reader = ctx.Process(target=subscribers, args=(port, subs, ready, stop, got))
    reader.start()
    ready.wait(30)
    cpu = cpu_seconds(pid)
    start = time.monotonic()
    writer = ctx.Process(target=publisher, args=(port, seconds, pipeline, payload, sent))
    writer.start()
    published = sent.get(timeout=seconds + 60)
    writer.join()
    stop.set()
    received = got.get(timeout=60)
    elapsed = time.monotonic() - start
    used = cpu_seconds(pid) - cpu
    reader.join()
    delivered = received // frame_size(payload)
    assert delivered == published * subs, (delivered, published, subs)
    return delivered / elapsed, published / elapsed, used / max(delivered, 1) * 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--subscribers", default="1,50")
    ap.add_argument("--seconds", type=float, default=5)
    ap.add_argument("--pipeline", type=int, default=100)
    ap.add_argument("--payload", type=int, default=16)
    ap.add_argument("--reps", type=int, default=2)
    args = ap.parse_args()
    node = NodeProcess().start()
    redis, redis_port, workdir = start_redis(["--appendonly", "no"])
    servers = {"respike": (node.port, node.proc.pid), "redis": (redis_port, redis.pid)}
    try:
        print(
            f"{'subscribers':>11} {'server':>8} {'delivered/s':>12} {'publish/s':>10} "
            f"{'cpu µs/msg':>10}"
        )
        for subs in [int(x) for x in args.subscribers.split(",")]:
            runs: dict[str, list] = {name: [] for name in servers}
            for _ in range(args.reps):
                for name, (port, pid) in servers.items():
                    runs[name].append(
                        run_once(port, pid, subs, args.seconds, args.pipeline, args.payload)
                    )
            med = {
                n: [statistics.median(col) for col in zip(*r, strict=True)] for n, r in runs.items()
            }
            for name, (dps, pps, cpu) in med.items():
                print(f"{subs:>11} {name:>8} {dps:>12,.0f} {pps:>10,.0f} {cpu:>10.2f}")
            ratio = med["respike"][0] / med["redis"][0]
            cpu_ratio = med["respike"][2] / med["redis"][2]
            print(f"{subs:>11} {'ratio':>8} {ratio:>12.2f}x {'':>10} {cpu_ratio:>9.2f}x")
    finally:
        node.cleanup()
        stop_redis(redis, workdir)


if __name__ == "__main__":
    main()
