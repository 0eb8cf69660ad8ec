"""EVALSHA against redis-server, side by side in one run.

Starts a respike node and a redis-server (no persistence) on free ports, loads the same
script into both with SCRIPT LOAD, then runs `redis-benchmark ... evalsha <sha> 1 key`
against each in turn, alternating, at every pipeline depth, and prints throughput and the
server CPU time per request of both, with the ratios. The default script is the issue's
2-command one (GET then INCR of KEYS[1]).

    python bench/scripting_bench.py [--pipelines 16,1] [--requests 200000] [--clients 50]
                                    [--reps 3] [--script "return redis.call('get', KEYS[1])"]
                                    [--baseline /path/to/another/respike/checkout]

--baseline runs a third server, respike from another checkout (its own compiled modules,
if built), in the same alternation: before/after figures from one run.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from common import cpu_seconds, start_redis, stop_redis  # noqa: E402

from respike.process import NodeProcess  # noqa: E402

SCRIPT = "local v = redis.call('get', KEYS[1]) return redis.call('incr', KEYS[1])"


def script_load(port: int, script: str) -> str:
    run = subprocess.run(
        ["redis-cli", "-p", str(port), "script", "load", script],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return run.stdout.strip()


def evalsha(port: int, pid: int, sha: str, requests: int, clients: int, pipeline: int):
    """(requests per second, server CPU µs per request) of one redis-benchmark run."""
    cmd = ["redis-benchmark", "-p", str(port), "-n", str(requests), "-c", str(clients)]
    cmd += ["-P", str(pipeline), "-q", "--csv", "evalsha", sha, "1", "key"]
    before = cpu_seconds(pid)
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    used = cpu_seconds(pid) - before
    rows = [line.split(",") for line in run.stdout.splitlines() if line.startswith('"evalsha')]
    if run.returncode or not rows:
        raise RuntimeError(f"redis-benchmark failed: {run.stdout[-300:]} {run.stderr[-300:]}")
    return float(rows[-1][1].strip('"')), used / requests * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--pipelines", default="16,1")
    parser.add_argument("--requests", type=int, default=200_000, help="at -P 1: a quarter")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--script", default=SCRIPT)
    parser.add_argument("--baseline", default="", help="another respike checkout to compare")
    args = parser.parse_args()
    if shutil.which("redis-benchmark") is None or shutil.which("redis-server") is None:
        sys.exit("redis-benchmark and redis-server are needed (make tools installs them)")
    node = NodeProcess().start()
    nodes = [node]
    redis, redis_port, workdir = start_redis(["--appendonly", "no"])
    try:
        servers = {"respike": (node.port, node.proc.pid), "redis": (redis_port, redis.pid)}
        if args.baseline:
            nodes.append(start_baseline(args.baseline))
            servers["baseline"] = (nodes[-1].port, nodes[-1].proc.pid)  # type: ignore[union-attr]
        shas = {name: script_load(port, args.script) for name, (port, _) in servers.items()}
        if len(set(shas.values())) != 1:
            sys.exit(f"the servers disagree on the script's sha: {shas}")
        sha = shas["respike"]
        print(f"script: {args.script}")
        print(f"redis-benchmark -c {args.clients} evalsha {sha} 1 key, median of {args.reps}")
        base = " | baseline req/s | baseline ratio | baseline CPU µs/req" if args.baseline else ""
        print("| -P | requests | respike req/s | redis req/s | ratio | respike CPU µs/req | "
              f"redis CPU µs/req{base} |")  # fmt: skip
        print("|" + "---|" * (10 if args.baseline else 7))
        for pipeline in (int(p) for p in args.pipelines.split(",")):
            n = args.requests if pipeline > 1 else max(args.requests // 4, 20_000)
            results: dict[str, list[tuple[float, float]]] = {name: [] for name in servers}
            for _ in range(args.reps):
                for name, (port, pid) in servers.items():  # alternate the servers
                    results[name].append(evalsha(port, pid, sha, n, args.clients, pipeline))
            ours = statistics.median(r[0] for r in results["respike"])
            theirs = statistics.median(r[0] for r in results["redis"])
            our_cpu = statistics.median(r[1] for r in results["respike"])
            their_cpu = statistics.median(r[1] for r in results["redis"])
            line = (f"| {pipeline} | {n} | {ours:,.0f} | {theirs:,.0f} | {ours / theirs:.2f} | "
                    f"{our_cpu:.2f} | {their_cpu:.2f} |")  # fmt: skip
            if args.baseline:
                was = statistics.median(r[0] for r in results["baseline"])
                was_cpu = statistics.median(r[1] for r in results["baseline"])
                line += f" {was:,.0f} | {was / theirs:.2f} | {was_cpu:.2f} |"
            print(line)
    finally:
        for n in nodes:
            n.cleanup()
        stop_redis(redis, workdir)


def start_baseline(checkout: str) -> NodeProcess:
    """A node running another checkout's respike: started from that directory with it on
    PYTHONPATH (`python -m` puts the working directory first on the path)."""
    before, cwd = os.environ.get("PYTHONPATH"), os.getcwd()
    os.environ["PYTHONPATH"] = os.path.abspath(checkout)
    os.chdir(checkout)
    try:
        return NodeProcess().start()
    finally:
        os.chdir(cwd)
        if before is None:
            del os.environ["PYTHONPATH"]
        else:
            os.environ["PYTHONPATH"] = before


if __name__ == "__main__":
    main()
