"""Cluster figures: failover time, migration throughput, replicated and clustered write
throughput next to a single node (same run), and the share of proxied requests.

    python bench/cluster_bench.py [--records 200000] [--reps 3]

Nodes run on 127.0.200.x; redis-benchmark drives the load (-c 50).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import redis  # noqa: E402
from common import redis_benchmark  # noqa: E402

from respike.keyspace import N_PARTITIONS, partition_of  # noqa: E402
from tests.cluster import Cluster  # noqa: E402

RF2 = "[namespaces.test]\nreplication-factor = 2\n"


def rps(
    host: str, port: int, test: str, n: int, pipeline: int, extra: list[str] | None = None
) -> float:
    return redis_benchmark(
        port, test, n, 50, pipeline, ["-r", "1000000", *(extra or [])], host=host
    )[0]


def probe_keys() -> list[str]:
    """One key per partition."""
    keys: dict[int, str] = {}
    i = 0
    while len(keys) < N_PARTITIONS:
        key = f"probe:{i}"
        keys.setdefault(partition_of(key.encode()), key)
        i += 1
    return list(keys.values())


def failover_seconds(reps: int) -> list[tuple[float, float]]:
    """kill -9 of a node: (seconds until the survivors' new view is rebalanced and a read of
    every partition succeeds, seconds until a write to every partition has succeeded).

    The second includes writing 4096 replicated records while migrations start, so it is
    bounded by replicated-write throughput as much as by failure detection."""
    results = []
    probes = probe_keys()
    for _ in range(reps):
        cluster = Cluster(3, RF2, subnet=200).start()
        try:
            cluster.wait_migrated(cluster.nodes)
            survivor = cluster.client(cluster.nodes[0])
            for key in probes:
                survivor.set(key, "x")
            cluster.nodes[2].kill()
            killed = time.monotonic()
            served = _until_all(survivor, probes, write=False) - killed
            written = _until_all(survivor, probes, write=True) - killed
            results.append((served, written))
        finally:
            cluster.stop()
    return results


def _until_all(client: redis.Redis, keys: list[str], write: bool) -> float:
    pending = list(keys)
    while pending:
        pipe = client.pipeline(transaction=False)
        for key in pending:
            pipe.set(key, "x") if write else pipe.get(key)
        outcome = pipe.execute(raise_on_error=False)
        pending = [
            k
            for k, r in zip(pending, outcome, strict=True)
            if isinstance(r, Exception) or (not write and r != b"x")
        ]
    return time.monotonic()


def load(client: redis.Redis, records: int, value: bytes) -> None:
    for start in range(0, records, 1000):
        client.mset({f"m:{i}": value for i in range(start, min(start + 1000, records))})


def migration(records: int, value_size: int = 100) -> dict[str, float]:
    """A third node joins a loaded two-node cluster: time until migrations finish."""
    cluster = Cluster(3, RF2, subnet=201)
    try:
        first, second, joiner = cluster.nodes
        first.start()
        second.start()
        cluster.wait_formed([first, second])
        cluster.wait_migrated([first, second])
        load(cluster.client(first), records, b"v" * value_size)
        joiner.start()
        started = time.monotonic()
        cluster.wait_migrated(cluster.nodes, timeout=1800)
        took = time.monotonic() - started
        moved = sum(
            cluster.info(p, "migrations")["migrate_records_transmitted"] for p in cluster.nodes
        )
        return {
            "records": records,
            "seconds": took,
            "records_moved": moved,
            "records_per_s": moved / took,
            "mb_per_s": moved * (value_size + 12) / took / 1e6,
        }
    finally:
        cluster.stop()


def throughput(requests: int) -> dict[str, float]:
    single = Cluster(1, RF2, subnet=202).start()
    two = Cluster(2, RF2, subnet=203).start()
    three = Cluster(3, RF2, subnet=204).start()
    try:
        two.wait_migrated(two.nodes)
        three.wait_migrated(three.nodes)
        s, t2, t3 = single.nodes[0], two.nodes[0], three.nodes[0]
        out = {}
        for p in (1, 16):
            out[f"single_set_P{p}"] = rps(s.host, s.port, "set", requests, p)
            out[f"rf2_set_P{p}"] = rps(t2.host, t2.port, "set", requests, p, ["--cluster"])
            out[f"cluster3_set_P{p}"] = rps(t3.host, t3.port, "set", requests, p, ["--cluster"])
            out[f"single_get_P{p}"] = rps(s.host, s.port, "get", requests, p)
            out[f"cluster3_get_P{p}"] = rps(t3.host, t3.port, "get", requests, p, ["--cluster"])
        for mode, extra in (("plain", []), ("cluster-aware", ["--cluster"])):
            before = [three.info(p) for p in three.nodes]
            rps(t3.host, t3.port, "get", 20000, 1, extra)
            after = [three.info(p) for p in three.nodes]
            proxied = sum(
                a["client_proxy_complete"] - b["client_proxy_complete"]
                for a, b in zip(after, before, strict=True)
            )
            out[f"proxied_share_{mode}"] = proxied / 20000
        return out
    finally:
        single.stop()
        two.stop()
        three.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--requests", type=int, default=200_000)
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args()
    times = failover_seconds(args.reps)
    print(
        f"failover, kill -9 -> every partition readable: median {statistics.median(t[0] for t in times):.2f}s; "
        f"-> a write to each of the 4096 partitions done: median {statistics.median(t[1] for t in times):.2f}s "
        f"(runs: {', '.join(f'{a:.2f}/{b:.2f}' for a, b in times)})"
    )
    mig = migration(args.records)
    print(
        "migration when a node joins a loaded 2-node cluster: "
        + ", ".join(f"{k}={v:,.1f}" for k, v in mig.items())
    )
    for key, value in throughput(args.requests).items():
        print(f"{key}: {value:,.3f}" if "share" in key else f"{key}: {value:,.0f} req/s")


if __name__ == "__main__":
    main()
