"""Durable writes: respike with `commit-to-device = true` against
`redis-server --appendonly yes --appendfsync always`, in the same run.

Both servers are started by this script on a fresh data dir each; redis-benchmark runs
against them in turn (alternating, so drifts in the shared machine hit both), for every
test and pipeline depth; the table gives the median requests/s, p50 latency and server
CPU per request, the whole machine's busy time per request (both servers, redis-benchmark,
the kernel's network work and the sync helper), redis-benchmark's own CPU per request, how
many writes one fsync/fdatasync served in each server (counted with `perf stat` on the
syscall tracepoints; n/a without perf), and the ratio respike / redis.

    python bench/device_durable.py [--tests set,hset] [--pipelines 1,16] [--requests 200000]
                                   [--clients 50] [--reps 3] [--keyspace 0] [--plain]

`--plain`: the same without durability (respike without commit-to-device, Redis without
AOF). `--with-plain`: both, all four servers alternating in one run, adding the plain
ratio and durability's relative cost to respike (1 - durable ratio / plain ratio: what
durability costs respike beyond what it costs Redis).
"""

from __future__ import annotations

import argparse
import shutil
import sys

from common import (
    SyncCounter,
    device_toml,
    measured_benchmark,
    median,
    start_node,
    start_redis,
    stop_redis,
    with_children,
)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tests", default="set,hset")
    parser.add_argument("--pipelines", default="1,16")
    parser.add_argument("--requests", type=int, default=200_000)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument(
        "--keyspace", type=int, default=0, help="redis-benchmark -r (0: one key per test)"
    )
    parser.add_argument("--plain", action="store_true", help="no durability on either side")
    parser.add_argument(
        "--with-plain", action="store_true", help="durable and plain servers, alternating"
    )
    args = parser.parse_args()
    if shutil.which("redis-benchmark") is None or shutil.which("redis-server") is None:
        sys.exit("redis-benchmark and redis-server are needed (make tools installs them)")
    modes = [True, False] if args.with_plain else [not args.plain]
    nodes, redises, servers = [], [], {}
    try:
        for durable in modes:
            suffix = "" if durable == modes[0] else " plain"
            node = start_node(device_toml(file_size="4G", commit_to_device=durable))
            nodes.append(node)
            redis, redis_port, workdir = start_redis(
                ["--appendonly", "yes", "--appendfsync", "always"] if durable else []
            )
            redises.append((redis, workdir))
            servers["respike" + suffix] = (node.port, node.proc.pid)
            servers["redis" + suffix] = (redis_port, redis.pid)
        extra = ["-r", str(args.keyspace)] if args.keyspace else []
        print(
            f"redis-benchmark -c {args.clients} -n {args.requests} (P1: n/4) {' '.join(extra)}; "
            f"median of {args.reps}, servers alternating"
            + ("; plain: no commit-to-device, no AOF" if args.plain else "")
        )
        theirs_name = "redis no AOF" if args.plain else "redis AOF always"
        print(
            f"| test | -P | respike req/s | {theirs_name} req/s | ratio | respike p50 ms | "
            "redis p50 ms | respike CPU µs/req | redis CPU µs/req | respike machine µs/req | "
            "redis machine µs/req | redis-benchmark CPU µs/req (respike / redis) | "
            "writes per sync (respike / redis) |"
            + (
                " plain ratio | durability's cost to respike beyond Redis |"
                if args.with_plain
                else ""
            )
        )
        print("|---" * (15 if args.with_plain else 13) + "|")
        for pipeline in (int(p) for p in args.pipelines.split(",")):
            for test in args.tests.split(","):
                n = args.requests if pipeline > 1 else max(args.requests // 4, 20_000)
                res: dict[str, list] = {name: [] for name in servers}
                for _ in range(args.reps):
                    for name, (port, pid) in servers.items():
                        with SyncCounter(with_children(pid)) as syncs:
                            run = measured_benchmark(
                                port, test, n, args.clients, pipeline, extra, pid
                            )
                        res[name].append((*run, n / syncs.count if syncs.count else 0.0))
                ours, theirs = _medians(res["respike"]), _medians(res["redis"])
                ratio = ours[0] / theirs[0]
                line = (
                    f"| {test.upper()} | {pipeline} | {ours[0]:,.0f} | {theirs[0]:,.0f} | "
                    f"{ratio:.2f} | {ours[1]:.2f} | {theirs[1]:.2f} | {ours[2]:.1f} | "
                    f"{theirs[2]:.1f} | {ours[3]:.1f} | {theirs[3]:.1f} | {ours[4]:.1f} / {theirs[4]:.1f} | "
                    f"{_per_sync(ours[5])} / {_per_sync(theirs[5])} |"
                )
                if args.with_plain:
                    plain = _medians(res["respike plain"])[0] / _medians(res["redis plain"])[0]
                    line += f" {plain:.2f} | {1 - ratio / plain:.0%} |"
                print(line, flush=True)
    finally:
        for node in nodes:
            node.cleanup()
        for redis, workdir in redises:
            stop_redis(redis, workdir)


def _medians(runs: list) -> list[float]:
    """Per column, the median over the repetitions of one server."""
    return [median(r[i] for r in runs) for i in range(6)]


def _per_sync(writes: float) -> str:
    """Writes per fsync/fdatasync; n/a without perf (or with no sync: --plain)."""
    return f"{writes:,.0f}" if writes else "n/a"


if __name__ == "__main__":
    main()
