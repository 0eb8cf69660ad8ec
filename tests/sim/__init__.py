"""Deterministic simulator of a respike cluster's state machines (respike/cluster).

N `ClusterNode`s run in one process over a seeded virtual network and a virtual clock:
message loss, delay and reordering, link cuts (splits, half-connected nodes), crashes
(memory-only nodes come back empty), restarts and pauses. Invariants are checked after
every step and at checkpoints; a failing seed prints the command that replays it:

    python -m tests.sim.run --seed 1234 --nodes 3 --scenario faults
"""
