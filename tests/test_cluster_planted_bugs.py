"""The simulator must catch bugs planted in the cluster core, within the CI seed range.

Each bug is a flag on the state machines (respike.cluster.config.PlantedBugs), so the code
under test is the shipped code with one guarantee switched off, not an edited copy.
"""

from __future__ import annotations

import pytest

from respike.cluster.config import PlantedBugs
from tests.sim.scenarios import config_for, run_scenario
from tests.sim.world import InvariantViolation

CASES = [
    # migration stores incoming copies without comparing generation / last-update-time
    ("skip_reconcile", ["restart", "faults", "split"]),
    # commit-level all answers before the replicas acknowledged
    ("ack_before_replicas", ["restart", "faults"]),
    # the natural master serves a partition it has no data for (no acting master)
    ("master_without_data", ["restart", "crash"]),
    # a quiesced node drops its copies at the hand-off: a crash before the fills finish
    # loses writes acknowledged before it
    ("quiesced_drops", ["quiesce"]),
]


def first_failure(bug: str, scenarios: list[str], seeds: range) -> str | None:
    bugs = PlantedBugs(**{bug: True})
    for seed in seeds:
        for scenario in scenarios:
            try:
                run_scenario(config_for(scenario, seed, 3, bugs=bugs))
            except InvariantViolation as exc:
                return str(exc)
    return None


@pytest.mark.parametrize("bug,scenarios", CASES, ids=[c[0] for c in CASES])
def test_simulator_catches_planted_bug(bug, scenarios):
    failure = first_failure(bug, scenarios, range(100))
    assert failure is not None, f"planted bug {bug} survived 100 seeds of {scenarios}"
    # the report tells how to replay it, bug included
    assert f"--bug {bug.replace('_', '-')}" in failure
    assert "python -m tests.sim.run --seed" in failure


def test_same_seeds_pass_without_the_bug():
    for bug, scenarios in CASES:
        failure = first_failure(bug, scenarios, range(100))
        assert failure is not None
        seed = int(failure.split()[1])
        scenario = failure.split("(")[1].split(",")[0]
        run_scenario(config_for(scenario, seed, 3))  # must not raise
