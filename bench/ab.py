"""A/B: this checkout against another (built) checkout of respike, under one
redis-benchmark command, in alternating runs on a fresh node each.

For a change whose effect is smaller than the machine's drift between two runs (the
shared 2-core VM moves 10-40%): each round runs both checkouts back to back, in turn
first, and the medians and their ratio are printed, with the server's CPU and the whole
machine's busy time per request (the second includes redis-benchmark, the kernel's
network work and the sync helper, which a server's own CPU time leaves out).

    python bench/ab.py --base /tmp/old [--rounds 6] [--namespace commit] [--test set]
                       [--requests 200000] [--clients 50] [--pipeline 1]

`--base` must be built like this one (`make venv`, `python -m respike.build_native`).
"""

from __future__ import annotations

import argparse
import os

from common import device_toml, measured_benchmark, median, start_node, storage_info

NAMESPACES = {
    "commit": device_toml(file_size="4G", commit_to_device=True),
    "device": device_toml(file_size="4G"),
    "memory": "",
}


def one_run(checkout: str, args) -> tuple[float, float, float, int]:
    """(req/s, server CPU µs/req, machine busy µs/req, group commits) on a fresh node."""
    here = os.getcwd()
    os.chdir(checkout)  # the node runs `python -m respike` from its working directory
    try:
        node = start_node(NAMESPACES[args.namespace])
    finally:
        os.chdir(here)
    try:
        rps, _p50, cpu, busy, _client = measured_benchmark(
            node.port, args.test, args.requests, args.clients, args.pipeline, None, node.proc.pid
        )
        commits = (
            int(storage_info(node.port).get("commits", 0)) if args.namespace != "memory" else 0
        )
        return rps, cpu, busy, commits
    finally:
        node.cleanup()


def _row(label: str, a, b) -> str:
    """One table row: req/s, server CPU, machine busy and commits, this then base."""
    return (
        f"| {label} | {a[0]:,.0f} | {b[0]:,.0f} | {a[1]:.1f} | {b[1]:.1f} | {a[2]:.1f} | "
        f"{b[2]:.1f} | {a[3]:.0f} | {b[3]:.0f} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--base", required=True, help="the other checkout (built)")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--namespace", choices=sorted(NAMESPACES), default="commit")
    parser.add_argument("--test", default="set")
    parser.add_argument("--requests", type=int, default=200_000)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--pipeline", type=int, default=1)
    args = parser.parse_args()
    sides = {
        "this": os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."),
        "base": args.base,
    }
    runs: dict[str, list] = {name: [] for name in sides}
    print(
        "| round | this req/s | base req/s | this CPU µs/req | base CPU µs/req | "
        "this machine µs/req | base machine µs/req | this commits | base commits |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for i in range(args.rounds):
        order = list(sides) if i % 2 == 0 else list(sides)[::-1]
        for name in order:
            runs[name].append(one_run(sides[name], args))
        print(_row(str(i + 1), runs["this"][-1], runs["base"][-1]), flush=True)
    med = {name: [median(r[k] for r in rs) for k in range(4)] for name, rs in runs.items()}
    a, b = med["this"], med["base"]
    print(_row("median", a, b))
    print(f"this / base: {a[0] / b[0]:.3f}x req/s")


if __name__ == "__main__":
    main()
