"""RAM per record of the device engine's primary index (respike/engine/device/index.py).

For each size, a fresh child process builds an index of that many random digests, spread
over the 4096 partitions like real keys, and reports the growth of its resident set
(VmRSS after - before) divided by the records, next to what the arrays say they hold.
Two ways to build it: `insert` (one record at a time, as writes do) and `bulk` (the
numpy build of a cold start). Growing arrays leave free heap memory behind; the node gives
it back to the system (malloc_trim) after the index grows, and so does this measure (the
figure before that is shown too). Also the time of one insert and one lookup from Python.

    python bench/device_index.py [--sizes 1000000,10000000] [--modes insert,bulk]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))


def child(n: int, mode: str) -> dict:
    import numpy as np
    from common import rss_bytes

    from respike.engine.device.index import CNT_ONE, Index, trim_heap
    from respike.keyspace import N_PARTITIONS

    gc.collect()
    gc.disable()
    index = Index()
    rnd = random.Random(42)
    before = rss_bytes()
    started = time.perf_counter()
    if mode == "insert":
        getrandbits = rnd.getrandbits
        insert = index.insert
        for i in range(n):
            insert(getrandbits(12), getrandbits(64), getrandbits(64), i, i << 16 | 1, CNT_ONE)
    else:
        rng = np.random.default_rng(42)
        pids = rng.integers(0, N_PARTITIONS, n, dtype=np.uint16)
        order = np.argsort(pids, kind="stable")
        bounds = np.searchsorted(pids[order], np.arange(N_PARTITIONS + 1))
        for p in range(N_PARTITIONS):
            m = int(bounds[p + 1] - bounds[p])
            ents = np.empty((m, 5), dtype=np.uint64)
            ents[:, :2] = rng.integers(0, 2**63, (m, 2), dtype=np.uint64)
            ents[:, 2:] = 1
            index.install(p, ents)
        del pids, order, bounds
    build = time.perf_counter() - started
    gc.collect()
    raw = rss_bytes()
    trim_heap()  # what the node does after growth (DeviceStorage ticker)
    after = rss_bytes()
    # Lookups of present digests, from Python.
    probes = []
    for pid in range(0, N_PARTITIONS, 41):
        ent = index.ents[pid]
        for k in range(0, min(len(ent), 500), 5):
            probes.append((pid, ent[k], ent[k + 1]))
    find = index.find
    t = time.perf_counter()
    for pid, d0, d1 in probes:
        find(pid, d0, d1)
    lookup = (time.perf_counter() - t) / len(probes)
    return {
        "records": n,
        "mode": mode,
        "rss_delta": after - before,
        "raw_per_record": (raw - before) / n,
        "rss_per_record": (after - before) / n,
        "arrays_per_record": index.nbytes() / n,
        "build_s": build,
        "insert_ns": build / n * 1e9 if mode == "insert" else None,
        "lookup_ns": lookup * 1e9,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="1000000,10000000")
    parser.add_argument("--modes", default="insert,bulk")
    parser.add_argument("--child", nargs=2, metavar=("N", "MODE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(int(args.child[0]), args.child[1])))
        return
    print(
        "| records | build | RSS delta / record | (before malloc_trim) | index arrays / record | "
        "build time | insert | lookup |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for n in (int(s) for s in args.sizes.split(",")):
        for mode in args.modes.split(","):
            out = subprocess.run(
                [sys.executable, __file__, "--child", str(n), mode],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            r = json.loads(out)
            insert = f"{r['insert_ns']:.0f} ns" if r["insert_ns"] else "-"
            print(
                f"| {n:,} | {mode} | {r['rss_per_record']:.1f} B | {r['raw_per_record']:.1f} B | "
                f"{r['arrays_per_record']:.1f} B | "
                f"{r['build_s']:.2f} s | {insert} | {r['lookup_ns']:.0f} ns |",
                flush=True,
            )


if __name__ == "__main__":
    main()
