"""The deterministic simulator: acceptance scenarios and >= 1,000 seeds in CI.

Each seed is a whole cluster run (faults, load, settling, checks); a failure message ends
with the command that replays it, e.g. `python -m tests.sim.run --seed 1234 --nodes 3
--scenario faults`. `python -m tests.sim.run --soak N --scenario all` runs many more seeds.
"""

from __future__ import annotations

import os

import pytest

from tests.sim.scenarios import config_for, run_scenario
from tests.sim.world import InvariantViolation, Simulator

# (scenario, nodes, replication factor, seeds): 1,200 seeds, about 42 s on one core.
CI_SEEDS = [
    ("faults", 3, 2, 300),
    ("chaos", 3, 2, 150),
    ("split", 3, 2, 150),
    ("half", 3, 2, 100),
    ("crash", 3, 2, 100),
    ("restart", 3, 2, 100),
    ("pause", 3, 2, 100),
    ("faults", 5, 2, 50),
    ("faults", 2, 2, 30),
    ("split", 4, 2, 30),
    ("faults", 4, 3, 30),
    ("quiesce", 3, 2, 30),
    ("quiesce", 4, 2, 10),
    ("quiesce", 4, 3, 10),
    ("quiesce", 2, 2, 10),
]
CHUNK = 50


def _chunks():
    for scenario, nodes, rf, count in CI_SEEDS:
        for start in range(0, count, CHUNK):
            size = min(CHUNK, count - start)
            yield pytest.param(
                scenario, nodes, rf, start, size, id=f"{scenario}-{nodes}n-rf{rf}-{start}"
            )


def run_seeds(scenario: str, nodes: int, seeds: range, **overrides) -> list[str]:
    failures = []
    for seed in seeds:
        try:
            run_scenario(config_for(scenario, seed, nodes, **overrides))
        except InvariantViolation as exc:
            failures.append(str(exc))
    return failures


def test_ci_runs_at_least_a_thousand_seeds():
    assert sum(count for *_, count in CI_SEEDS) >= 1000


@pytest.mark.parametrize("scenario,nodes,rf,start,count", list(_chunks()))
def test_seeds(scenario, nodes, rf, start, count):
    failures = run_seeds(scenario, nodes, range(start, start + count), rf=rf)
    assert not failures, f"{len(failures)} failing seeds; first:\n{failures[0]}"


# --- the acceptance criteria, one by one, on full-size partition tables -----------------

FULL_TABLE = {"n_partitions": 4096, "migrate_threads": 32, "max_incoming": 32}


def run(scenario: str, seed: int, nodes: int = 3, **overrides) -> Simulator:
    return run_scenario(config_for(scenario, seed, nodes, **overrides))


def test_three_nodes_form_one_cluster_with_one_key_and_table():
    from tests.sim.scenarios import _start

    sim = Simulator(config_for("crash", 11, 3, **FULL_TABLE))
    _start(sim)
    nodes = [sim.nodes[n] for n in sim.ids]
    assert len({n.view for n in nodes}) == 1
    assert nodes[0].view.succession == tuple(sorted(sim.ids, reverse=True))
    assert len({n.plan_digest for n in nodes}) == 1
    plan = nodes[0].plan("test")
    masters = [p.master for p in plan.parts]
    assert len(masters) == 4096
    counts = {n: masters.count(n) for n in sim.ids}
    assert all(abs(c - 4096 / 3) <= 0.1 * 4096 / 3 for c in counts.values())


@pytest.mark.parametrize("seed", [1, 2])
def test_crash_of_any_node_under_load_loses_no_acknowledged_write(seed):
    sim = run("crash", seed, **FULL_TABLE)
    assert sim.client.counts["acked"] > 50
    assert len(sim.up_nodes()) == 2


@pytest.mark.parametrize("seed", [1, 2])
def test_restarted_node_rejoins_and_balance_returns(seed):
    sim = run("restart", seed, **FULL_TABLE)
    nodes = [sim.nodes[n] for n in sim.ids]
    assert all(n.view.succession == tuple(sorted(sim.ids, reverse=True)) for n in nodes)
    assert all(n.handoffs == 0 and n.migrations.pending == 0 for n in nodes)


@pytest.mark.parametrize("seed", [1, 2])
def test_paused_node_is_dropped_and_rejoins(seed):
    sim = run("pause", seed)
    assert sim.view_changes >= 3 * 2  # dropped, then taken back (each node logs each change)
    assert sum(n.pauses for n in sim.nodes.values()) >= 1


@pytest.mark.parametrize("seed", [1, 2])
def test_split_then_heal_converges_and_follows_the_policy(seed):
    sim = run("split", seed, policy="generation")
    assert len({sim.nodes[n].view for n in sim.ids}) == 1
    sim = run("split", seed, policy="last-update-time")
    assert len({sim.nodes[n].view for n in sim.ids}) == 1


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_half_connected_node_settles_without_flapping(seed):
    run("half", seed)  # fails if the membership changes during 10 quiet seconds


def test_quiesce_hands_off_every_master_and_undo_restores_balance():
    """Quiesce one of three nodes under load on a full table: once migrations settle it
    masters none of the 4096 partitions (the other two about 2048 each), nothing
    acknowledged is lost; after undo every node masters 4096/3 +-10 % again."""
    from tests.sim.scenarios import (
        _check_balance_restored,
        _check_quiesced,
        _set_quiesced,
        _settle_and_check,
        _start,
    )

    sim = Simulator(config_for("quiesce", 5, 3, **FULL_TABLE))
    _start(sim)
    original = sim.nodes[sim.ids[0]].table.rows
    sim.client.enable()
    sim.run_for(500)
    victim = sim.ids[1]
    _set_quiesced(sim, [victim], True)
    sim.run_for(1000)
    sim.settle("quiesce hand-off")
    _check_quiesced(sim, [victim])
    sim.checker.check_data(strong=True)
    masters = [p.master for p in sim.nodes[victim].plan("test").parts]
    assert masters.count(victim) == 0
    assert all(abs(masters.count(n) - 2048) <= 205 for n in sim.ids if n != victim)
    _set_quiesced(sim, [victim], False)
    sim.run_for(500)
    _settle_and_check(sim, strong=True)
    _check_balance_restored(sim, original)
    masters = [p.master for p in sim.nodes[victim].plan("test").parts]
    assert all(abs(masters.count(n) - 4096 / 3) <= 0.1 * 4096 / 3 for n in sim.ids)
    assert sim.client.counts["acked"] > 50


def test_a_seed_replays_exactly():
    a = run("faults", 7)
    b = run("faults", 7)
    assert (a.now, a.messages, a.view_changes, a.client.counts) == (
        b.now,
        b.messages,
        b.view_changes,
        b.client.counts,
    )


def test_failure_message_names_the_replay_command():
    sim = Simulator(config_for("faults", 1234, 3))
    with pytest.raises(InvariantViolation) as err:
        sim.fail("example")
    assert "python -m tests.sim.run --seed 1234 --nodes 3 --scenario faults" in str(err.value)


def test_run_entry_point_replays_a_seed(capsys):
    from tests.sim.run import main

    assert main(["--seed", "3", "--nodes", "3", "--scenario", "crash"]) == 0
    assert "ok seed 3 crash" in capsys.readouterr().out


@pytest.mark.skipif(not os.environ.get("RESPIKE_SIM_SOAK"), reason="set RESPIKE_SIM_SOAK=N to soak")
@pytest.mark.timeout(0)
def test_soak():
    """Many more seeds than CI: RESPIKE_SIM_SOAK=5000 pytest tests/test_cluster_sim.py -k soak
    (or `python -m tests.sim.run --soak 5000 --scenario all`)."""
    count = int(os.environ["RESPIKE_SIM_SOAK"])
    failures = []
    for scenario, nodes, rf, _ in CI_SEEDS:
        failures += run_seeds(scenario, nodes, range(100_000, 100_000 + count), rf=rf)
    assert not failures, f"{len(failures)} failing seeds; first:\n{failures[0]}"
