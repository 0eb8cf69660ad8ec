"""Heartbeat bookkeeping: gossip learns every node, timeouts, self-pause."""

from __future__ import annotations

import dataclasses

from respike.cluster.heartbeat import Heartbeat
from respike.cluster.messages import Pulse


def pulse(addr: str, adjacency=(), key=0, succession=()) -> Pulse:
    return Pulse(addr, 1, tuple(adjacency), key, tuple(succession), 0, False, 0)


def test_pulses_seeds_then_learns_nodes_from_adjacency():
    hb = Heartbeat(1, "a", ["b", "a"], interval_ms=100, timeout_intervals=10)
    assert hb.tick(0)
    assert hb.targets() == [(0, "b")]  # own address is not a seed
    assert not hb.tick(50)
    hb.on_pulse(2, pulse("b", [(1, "a"), (3, "c")]), 60)
    assert hb.alive() == [2]
    assert sorted(hb.targets()) == [(2, "b"), (3, "c")]  # learned node 3 from gossip
    assert not hb.is_alive(3)  # only once it pulses us itself
    hb.on_pulse(3, pulse("c"), 70)
    assert sorted(hb.alive()) == [2, 3]
    assert hb.adjacency() == ((2, "b"), (3, "c"))
    assert [e for e in hb.take_events()] == [("up", 2), ("up", 3)]


def test_dead_after_timeout_and_back_on_next_pulse():
    hb = Heartbeat(1, "a", [], interval_ms=100, timeout_intervals=10)
    hb.on_pulse(2, pulse("b"), 0)
    hb.tick(1000)
    assert hb.is_alive(2)
    hb.tick(1001)
    assert not hb.is_alive(2)
    assert (0, "b") not in hb.targets() and (2, "b") in hb.targets()  # still pulsed
    hb.on_pulse(2, pulse("b"), 1500)
    assert hb.is_alive(2)
    assert [e for e, _ in hb.take_events()] == ["up", "down", "up"]


def test_reset_after_own_pause_keeps_peers_alive():
    hb = Heartbeat(1, "a", [], interval_ms=100, timeout_intervals=10)
    hb.on_pulse(2, pulse("b"), 0)
    hb.reset_after_pause(5000)
    hb.tick(5001)
    assert hb.is_alive(2)


def test_changes_counter_tracks_relevant_pulse_content():
    hb = Heartbeat(1, "a", [], interval_ms=100, timeout_intervals=10)
    hb.on_pulse(2, pulse("b"), 0)
    c = hb.changes
    hb.on_pulse(2, pulse("b"), 100)
    assert hb.changes == c
    hb.on_pulse(2, pulse("b", key=5, succession=(2, 1)), 200)
    assert hb.changes == c + 1


def test_quiesce_flag_in_a_pulse_counts_as_a_change():
    """The principal re-evaluates (and proposes a quiesce view) when a peer's flag flips."""
    hb = Heartbeat(1, "a", [], interval_ms=100, timeout_intervals=10)
    hb.on_pulse(2, pulse("b"), 0)
    c = hb.changes
    flagged = dataclasses.replace(pulse("b"), quiesced=True)
    hb.on_pulse(2, flagged, 100)
    assert hb.changes == c + 1 and hb.pulse_of(2).quiesced
    hb.on_pulse(2, flagged, 200)
    assert hb.changes == c + 1
