"""Paxos ballots: promises bind the acceptor; commits apply only what was accepted."""

from __future__ import annotations

from respike.cluster.messages import Ballot
from respike.cluster.paxos import Acceptor, Proposer, ViewValue

V1 = ViewValue(0x111, (9, 5), 1)
V2 = ViewValue(0x222, (9, 5, 3), 2)


def test_promise_binds_the_acceptor():
    a = Acceptor()
    assert a.prepare(Ballot(2, 9))
    assert a.prepare(Ballot(2, 9))  # a re-sent prepare is promised again
    assert not a.prepare(Ballot(1, 99))
    assert not a.accept(Ballot(1, 99), V1)  # lower ballot refused after the promise
    assert a.accept(Ballot(2, 9), V2)
    assert a.commit(Ballot(2, 9), V2)
    assert not a.commit(Ballot(1, 99), V1)  # never accepted
    assert not a.commit(Ballot(2, 9), V1)  # not the accepted value


def test_ballot_order_counter_then_node():
    assert Ballot(2, 1) > Ballot(1, 99)
    assert Ballot(2, 5) > Ballot(2, 4)


def test_forget_promises_planted_bug_accepts_lower_ballots():
    a = Acceptor(forget_promises=True)
    assert a.prepare(Ballot(5, 9))
    assert a.accept(Ballot(1, 3), V1)  # would be refused by a correct acceptor


def test_forget_accepted_stops_a_late_commit():
    a = Acceptor()
    a.prepare(Ballot(1, 9))
    a.accept(Ballot(1, 9), V1)
    a.forget_accepted()
    assert not a.commit(Ballot(1, 9), V1)
    assert not a.prepare(Ballot(0, 1))  # the promise itself is kept


def test_proposer_round_needs_every_member():
    p = Proposer(9)
    p.observe(Ballot(4, 5))
    r = p.start((9, 5, 3), now=0)
    assert r.ballot == Ballot(5, 9)
    assert not p.on_promise(9, r.ballot, 1)
    assert not p.on_promise(5, r.ballot, 3)
    assert not p.on_promise(5, Ballot(1, 1), 3)  # stale ballot ignored
    assert p.on_promise(3, r.ballot, 2)
    assert max(r.promises.values()) == 3
    p.begin_accept(V2, now=1)
    assert not p.on_accepted(9, r.ballot)
    assert not p.on_accepted(5, r.ballot)
    assert p.on_accepted(3, r.ballot)
    assert p.abort() is r and p.round is None


def test_quiesced_set_is_part_of_the_agreed_value():
    """Nodes must not commit a view whose table (quiesced set) differs from what they
    accepted: the quiesced set is in the value, not read from pulses by each node."""
    a = Acceptor()
    quiesce = ViewValue(0x333, (9, 5, 3), 3, (5,))
    a.prepare(Ballot(3, 9))
    assert a.accept(Ballot(3, 9), quiesce)
    assert not a.commit(Ballot(3, 9), ViewValue(0x333, (9, 5, 3), 3))
    assert a.commit(Ballot(3, 9), quiesce)
