"""respike against redis-server, side by side in one run.

Starts a respike node and a redis-server (no persistence) on free ports, then runs
redis-benchmark against each in turn, alternating, for every test and pipeline depth, and
prints throughput and the server CPU time per request (utime+stime from /proc/PID/stat)
of both, with the ratios. At -P 1 this 2-core machine is limited by the benchmark client,
so CPU per request is what separates the servers there.

    python bench/redis_compare.py [--tests set,get,hset,incr] [--pipelines 1,16]
                                  [--requests 400000] [--clients 50] [--reps 3]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from common import redis_benchmark, start_redis, stop_redis  # noqa: E402

from respike.process import NodeProcess  # noqa: E402


def run_benchmark(
    port: int,
    pid: int,
    test: str,
    pipeline: int,
    requests: int,
    clients: int,
    extra: list[str] | None = None,
) -> tuple[float, float]:
    """(requests per second, server CPU microseconds per request)."""
    rps, _, cpu = redis_benchmark(port, test, requests, clients, pipeline, extra, pid)
    return rps, cpu


def compare(
    servers: dict[str, tuple[int, int]],
    tests: list[str],
    pipelines: list[int],
    requests: int,
    clients: int,
    reps: int,
    extra: list[str] | None = None,
) -> list[dict]:
    rows = []
    for pipeline in pipelines:
        for test in tests:
            results: dict[str, list[tuple[float, float]]] = {name: [] for name in servers}
            n = requests if pipeline > 1 else max(requests // 4, 20000)
            for _ in range(reps):
                for name, (port, pid) in servers.items():  # alternate the servers
                    results[name].append(
                        run_benchmark(port, pid, test, pipeline, n, clients, extra)
                    )
            row = {"test": test.upper(), "pipeline": pipeline}
            for name, values in results.items():
                row[f"{name}_rps"] = statistics.median(v[0] for v in values)
                row[f"{name}_cpu_us"] = statistics.median(v[1] for v in values)
            rows.append(row)
    return rows


def print_table(rows: list[dict], ours: str = "respike", theirs: str = "redis") -> None:
    head = (
        f"| test | -P | {ours} req/s | {theirs} req/s | throughput ratio | {ours} CPU µs/req | "
        f"{theirs} CPU µs/req | CPU ratio |"
    )
    print(head)
    print("|" + "---|" * 8)
    for r in rows:
        print(
            f"| {r['test']} | {r['pipeline']} | {r[f'{ours}_rps']:,.0f} | {r[f'{theirs}_rps']:,.0f} | "
            f"{r[f'{ours}_rps'] / r[f'{theirs}_rps']:.2f} | {r[f'{ours}_cpu_us']:.2f} | "
            f"{r[f'{theirs}_cpu_us']:.2f} | {r[f'{ours}_cpu_us'] / r[f'{theirs}_cpu_us']:.2f} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tests", default="set,get,hset,incr")
    parser.add_argument("--pipelines", default="1,16")
    parser.add_argument("--requests", type=int, default=400_000)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument(
        "--config",
        default="",
        help="TOML text for the respike node (e.g. a larger max-record-size)",
    )
    args = parser.parse_args()
    if shutil.which("redis-benchmark") is None or shutil.which("redis-server") is None:
        sys.exit("redis-benchmark and redis-server are needed (make tools installs them)")
    node = NodeProcess(config=args.config).start()
    redis, redis_port, workdir = start_redis(["--appendonly", "no"])
    try:
        servers = {"respike": (node.port, node.proc.pid), "redis": (redis_port, redis.pid)}
        rows = compare(
            servers,
            args.tests.split(","),
            [int(p) for p in args.pipelines.split(",")],
            args.requests,
            args.clients,
            args.reps,
        )
        print(
            f"redis-benchmark -c {args.clients} -n {args.requests} (P1: n/4), median of {args.reps}, "
            "servers alternating"
        )
        print_table(rows)
    finally:
        node.cleanup()
        stop_redis(redis, workdir)


if __name__ == "__main__":
    main()
