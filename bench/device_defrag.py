"""Defrag write amplification under a steady overwrite load.

A node with one device file (`--file-size`, 1 MiB write blocks by default) takes random
overwrites of a working set that fills a given share of the device (redis-benchmark
`-t set -r KEYS -d VALUE -P 16`). After a first pass that fills the device and gets
defrag going, a measured pass writes `--passes` times the file size; write amplification
is (bytes written by clients + bytes rewritten by defrag) / bytes written by clients over
the measured pass (INFO storage: client_write_bytes, defrag_write_bytes).

    python bench/device_defrag.py [--fill 25,50] [--file-size 256M] [--value 1000] [--passes 4]
"""

from __future__ import annotations

import argparse
import time

from common import device_toml, redis_benchmark, start_node, storage_info


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--fill", default="25,50", help="working set, percent of the device")
    parser.add_argument("--file-size", default="256M")
    parser.add_argument("--block", default="1M")
    parser.add_argument("--value", type=int, default=1000)
    parser.add_argument("--passes", type=float, default=4)
    args = parser.parse_args()
    size = int(args.file_size.rstrip("M")) << 20
    record = 16 * ((72 + 16 + args.value + 5 + 15) // 16)  # on-device size of one record
    print(
        f"file-size {args.file_size}, write-block-size {args.block}, values of {args.value} bytes "
        f"({record} bytes on the device), defrag-lwm-pct 50"
    )
    print(
        "| working set | writes | client MB | defrag MB | write amplification | defrag blocks | "
        "stop-writes | writes/s |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for fill in (int(f) for f in args.fill.split(",")):
        keys = size * fill // 100 // record
        node = start_node(
            device_toml(
                file_size=args.file_size,
                write_block_size=args.block,
                stop_writes_used_pct=90,
                nsup_period=0,
            )
        )
        try:
            warm = int(size * 1.5 // record)
            redis_benchmark(
                node.port, "set", warm, 50, 16, ["-r", str(keys), "-d", str(args.value)]
            )
            before = storage_info(node.port)
            n = int(size * args.passes // record)
            started = time.perf_counter()
            rps, _, _ = redis_benchmark(
                node.port, "set", n, 50, 16, ["-r", str(keys), "-d", str(args.value)]
            )
            after = storage_info(node.port)
            client = int(after["client_write_bytes"]) - int(before["client_write_bytes"])
            defrag = int(after["defrag_write_bytes"]) - int(before["defrag_write_bytes"])
            blocks = int(after["defrag_blocks"]) - int(before["defrag_blocks"])
            elapsed = time.perf_counter() - started
            print(
                f"| {fill}% ({keys:,} keys) | {n:,} | {client / 1e6:,.0f} | {defrag / 1e6:,.0f} | "
                f"{(client + defrag) / client:.2f} | {blocks:,} | {after['stop_writes']} | "
                f"{n / elapsed:,.0f} |",
                flush=True,
            )
        finally:
            node.cleanup()


if __name__ == "__main__":
    main()
