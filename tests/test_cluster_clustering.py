"""Clustering decisions of one node, driven with real pulses and paxos messages.

The case both tests pin down was found by the simulator's soak (seed 686, scenario
restart): node B, principal of [B, C], accepts the restarted highest node A's view
[A, B, C], but A's commit to B is lost. C adopts the view; B goes on as the principal of
[B, C], sees C leave it, forms [B] alone and masters every partition next to A's cluster
(a split brain with no network fault); writes B acknowledged there lost to the other side's
copies after the merge.
"""

from __future__ import annotations

import random

from respike.cluster.clustering import Clustering, ClusteringTiming
from respike.cluster.heartbeat import Heartbeat
from respike.cluster.messages import (
    Ballot,
    PaxosAccept,
    PaxosAccepted,
    PaxosPrepare,
    PaxosPromise,
    Pulse,
)

A, B, C = 30, 20, 10
NEW_KEY = 0xBEEF
TIMING = ClusteringTiming(
    quantum_ms=10, patience_ms=10, grace_ms=30, round_timeout_ms=100, resend_ms=10
)


def pulse(node_adjacency: tuple[int, ...], key: int = 0, succession: tuple[int, ...] = ()):
    adjacency = tuple((n, f"n{n}") for n in node_adjacency)
    return Pulse("addr", 1, adjacency, key, succession, 0, False, 0)


def principal_of_b_and_c() -> tuple[Clustering, Heartbeat]:
    """Node B after forming the view [B, C] as its principal (through a real round)."""
    c = Clustering(B, random.Random(1), TIMING, now=0)
    hb = Heartbeat(B, "nB", [], interval_ms=10, timeout_intervals=50)
    hb.on_pulse(C, pulse((B,)), 0)
    c.evaluate(hb, 0, False)
    (prepare,) = c.evaluate(hb, 20, False)
    ballot = prepare.msg.ballot
    c.on_promise(C, PaxosPromise(ballot, 0), 21)
    c.on_accepted(C, PaxosAccepted(ballot), 22)
    assert c.view is not None and c.view.succession == (B, C) and c.view.principal == B
    return c, hb


def join_a(c: Clustering, hb: Heartbeat, now: int) -> None:
    """A restarts, B hears it, and B promises and accepts A's view [A, B, C]."""
    hb.on_pulse(A, pulse((B, C)), now)
    hb.on_pulse(C, pulse((A, B), c.view.cluster_key, c.view.succession), now)
    ballot = Ballot(7, A)
    assert isinstance(
        c.on_prepare(A, PaxosPrepare(ballot, (A, B, C)), hb, now)[0].msg, PaxosPromise
    )
    sent = c.on_accept(A, PaxosAccept(ballot, NEW_KEY, (A, B, C), 3), hb, now + 1)
    assert isinstance(sent[0].msg, PaxosAccepted)


def test_a_lost_commit_is_learned_from_the_proposers_heartbeat():
    c, hb = principal_of_b_and_c()
    join_a(c, hb, 100)
    # A's commit to B is lost; A and C now pulse the new view's key.
    hb.on_pulse(C, pulse((A, B), NEW_KEY, (A, B, C)), 110)
    hb.on_pulse(A, pulse((B, C), NEW_KEY, (A, B, C)), 112)
    c.evaluate(hb, 113, False)
    assert c.view is not None
    assert (c.view.cluster_key, c.view.succession, c.view.epoch) == (NEW_KEY, (A, B, C), 3)


def test_a_principal_that_agreed_to_join_a_higher_node_does_not_drop_the_members_that_did():
    c, hb = principal_of_b_and_c()
    old = c.view
    join_a(c, hb, 100)
    # C has moved to A's view; A's pulse (and its commit) have not reached B yet.
    hb.on_pulse(C, pulse((A, B), NEW_KEY, (A, B, C)), 110)
    for now in range(111, 190, 5):  # within the round timeout of B's acceptance
        assert c.evaluate(hb, now, False) == []
        assert c.view == old
