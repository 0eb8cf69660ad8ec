"""Start-up of a device namespace: cold-start scan rate, and start-up with the checkpoint.

Fills a device with N records in-process (the engine's own write path, no sockets),
closes it cleanly (which writes the index checkpoint), then starts real nodes on it:

1. with the checkpoint (clean shutdown before): time from spawn to PING;
2. after kill -9 (no checkpoint): the cold-start scan, warm page cache;
3. the same with the files' pages dropped from the page cache first (posix_fadvise
   DONTNEED; the host may still cache them).

The scan rate is records scanned / scan time as the node reports it (INFO storage:
scan_records, scan_ms); start-up is spawn-to-PING and includes the Python start.

    python bench/device_restart.py [--records 1000000,10000000] [--value 20]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from common import device_toml, storage_info  # noqa: E402

from respike.config import build_config  # noqa: E402
from respike.engine.engine import Engine  # noqa: E402
from respike.engine.namespace import DEFAULT  # noqa: E402
from respike.engine.record import STRING  # noqa: E402
from respike.process import NodeProcess  # noqa: E402


def settings(records: int, value: int) -> dict:
    per = 16 * ((72 + 12 + value + 4 + 15) // 16)
    size = max(256, (records * per * 3 // 2) >> 20)
    return {"file-size": f"{size}M", "nsup-period": 0, "stop-writes-used-pct": 0}


async def fill(data_dir: str, records: int, value: int) -> float:
    config = build_config(
        {"namespaces": {"test": {"storage-engine": "device", **settings(records, value)}}},
        {"data-dir": data_dir},
    )
    engine = Engine(config)
    ns = engine.namespaces[b"test"]
    await ns.storage.start()
    started = time.perf_counter()
    payload = b"v" * value
    write = ns.write
    for i in range(records):
        write(b"key:%d" % i, None, STRING, payload, value, DEFAULT)
        if i % 100_000 == 0:
            await asyncio.sleep(0)
    elapsed = time.perf_counter() - started
    engine.close()
    return elapsed


def timed_start(config: str, data_dir: str) -> tuple[NodeProcess, float]:
    node = NodeProcess(config=config, data_dir=data_dir)
    started = time.perf_counter()
    node.start(timeout=900)
    return node, time.perf_counter() - started


def drop_cache(data_dir: str) -> None:
    for name in os.listdir(data_dir):
        if name.endswith(".dat"):
            fd = os.open(os.path.join(data_dir, name), os.O_RDONLY)
            os.fsync(fd)
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            os.close(fd)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--records", default="1000000,10000000")
    parser.add_argument("--value", type=int, default=20)
    args = parser.parse_args()
    print(
        "| records | device bytes | fill (in-process) | checkpoint start | scan start (warm) | "
        "scan rate (warm) | scan start (cold) | scan rate (cold) |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for records in (int(r) for r in args.records.split(",")):
        data_dir = tempfile.mkdtemp(prefix="bench-restart-")
        try:
            fill_s = asyncio.run(fill(data_dir, records, args.value))
            config = device_toml(**settings(records, args.value))
            node, ckpt_s = timed_start(config, data_dir)
            info = storage_info(node.port)
            assert info["start_mode"] == "checkpoint", info["start_mode"]
            used = int(info["device_used_bytes"])
            rates = []
            for cold in (False, True):
                node.kill()
                if cold:
                    drop_cache(data_dir)
                node, start_s = timed_start(config, data_dir)
                info = storage_info(node.port)
                assert info["start_mode"] == "scan" and int(info["scan_records"]) >= records
                rates.append((start_s, int(info["scan_records"]) / (float(info["scan_ms"]) / 1000)))
            node.stop()
            print(
                f"| {records:,} | {used / 2**20:,.0f} MiB | {records / fill_s / 1000:,.0f}k rec/s | "
                f"{ckpt_s:.2f} s | {rates[0][0]:.2f} s | {rates[0][1] / 1e6:.2f} M rec/s | "
                f"{rates[1][0]:.2f} s | {rates[1][1] / 1e6:.2f} M rec/s |",
                flush=True,
            )
        finally:
            shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
