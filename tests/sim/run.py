"""Run or replay simulator seeds.

    python -m tests.sim.run --seed 1234 --nodes 3 --scenario faults     # replay one seed
    python -m tests.sim.run --seed 1234 --scenario split -v             # with cluster logs
    python -m tests.sim.run --soak 5000 --scenario all                  # many seeds (not CI)

Exit status 1 if any seed violates an invariant; each failure prints its replay command.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time

from respike.cluster.config import PlantedBugs

from .scenarios import SCENARIOS, config_for, run_scenario
from .world import InvariantViolation, Simulator, configure_logging

BUGS = (
    "forget-promises",
    "skip-reconcile",
    "ack-before-replicas",
    "master-without-data",
    "quiesced-drops",
)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m tests.sim.run", description=__doc__.split("\n\n")[0]
    )
    ap.add_argument("--seed", type=int, default=1, help="first seed")
    ap.add_argument("--nodes", type=int, default=3)
    ap.add_argument("--scenario", default="faults", choices=[*SCENARIOS, "all"])
    ap.add_argument(
        "--partitions", type=int, default=None, help="partitions per namespace (sim default 32)"
    )
    ap.add_argument("--rf", type=int, default=2, help="replication factor (default 2)")
    ap.add_argument("--soak", type=int, default=0, metavar="N", help="run N seeds from --seed")
    ap.add_argument("--bug", action="append", default=[], choices=BUGS, help="plant a bug")
    ap.add_argument("--no-wire", action="store_true", help="pass message objects, skip msgpack")
    ap.add_argument(
        "-v", "--verbose", action="count", default=0, help="log the cluster (-vv: debug)"
    )
    args = ap.parse_args(argv)

    logger = logging.getLogger("respike.cluster")
    level = logger.level
    if not args.verbose:
        logger.setLevel(logging.ERROR)  # pauses and refusals are expected here, not news
    try:
        return _run(args)
    finally:
        logger.setLevel(level)


def _run(args: argparse.Namespace) -> int:
    bugs = PlantedBugs(**{b.replace("-", "_"): True for b in args.bug})
    scenarios = list(SCENARIOS) if args.scenario == "all" else [args.scenario]
    count = max(1, args.soak)
    failures = 0
    started = time.perf_counter()
    for i in range(count):
        seed = args.seed + i
        for scenario in scenarios:
            overrides: dict[str, object] = {"bugs": bugs, "wire": not args.no_wire, "rf": args.rf}
            if args.partitions:
                overrides["n_partitions"] = args.partitions
            cfg = config_for(scenario, seed, args.nodes, **overrides)
            t0 = time.perf_counter()
            try:
                if args.verbose:
                    sim = Simulator(cfg)
                    configure_logging(sim, args.verbose > 1)
                    SCENARIOS[scenario](sim)
                else:
                    sim = run_scenario(cfg)
            except InvariantViolation as exc:
                failures += 1
                print(f"FAIL {exc}", file=sys.stderr)
                continue
            if count == 1 or args.verbose:
                c = sim.client.counts
                print(
                    f"ok seed {seed} {scenario}: {sim.now} ms simulated in {time.perf_counter() - t0:.2f} s, "
                    f"{sim.messages} messages, {sim.view_changes} view changes, writes acked {c['acked']} "
                    f"unknown {c['unknown']} failed {c['failed']}"
                )
    runs = count * len(scenarios)
    print(f"{runs - failures}/{runs} runs passed in {time.perf_counter() - started:.1f} s")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
