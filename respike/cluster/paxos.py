"""Paxos mechanics for agreeing on one cluster view per round: acceptor and proposer.

After Aerospike's variant (clustering.c): the principal proposes; prepare and accept both
go to every node of the proposed succession list. Aerospike's prepare needs a majority and
its accept all of them; here both need all, because a view is only useful if every node in
it adopts it. Each round decides a fresh value (a new
random cluster key), so there is no earlier value for a proposer to adopt; what the
promises buy is that once a node has promised a higher ballot (to a competing principal),
it refuses the older proposal's accept, and a commit is only applied by a node whose last
accepted ballot is exactly the committed one. Two principals racing for the same node
therefore cannot both get it: the loser's round fails and it retries later.

The policy of *whom* a node lets propose to it lives in clustering.py; this module only
keeps the ballots. `forget_promises` is a planted bug for the simulator's self-test.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .messages import ZERO_BALLOT, Ballot


@dataclass(frozen=True, slots=True)
class ViewValue:
    """The value a round decides: everything a view is, so that every node that commits it
    derives the same partition table (`quiesced` changes the table as much as `succession`
    does, so it is part of the agreement, not read from pulses by each node)."""

    cluster_key: int
    succession: tuple[int, ...]
    epoch: int
    quiesced: tuple[int, ...] = ()


class Acceptor:
    """Promise and acceptance state of one node (memory only: a restarted node is new)."""

    def __init__(self, forget_promises: bool = False):
        self.promised: Ballot = ZERO_BALLOT
        self.accepted: Ballot = ZERO_BALLOT
        self.accepted_value: ViewValue | None = None
        self.forget_promises = forget_promises

    def prepare(self, ballot: Ballot) -> bool:
        """Phase 1b: promise if `ballot` is not lower than any promise made (re-sends pass)."""
        if ballot < self.promised:
            return False
        if not self.forget_promises:
            self.promised = ballot
        return True

    def accept(self, ballot: Ballot, value: ViewValue) -> bool:
        """Phase 2b: accept unless a higher ballot was promised since."""
        if ballot < self.promised:
            return False
        self.promised = ballot
        self.accepted = ballot
        self.accepted_value = value
        return True

    def forget_accepted(self) -> None:
        """Drop the accepted value (the node left that view); promises are kept."""
        self.accepted = ZERO_BALLOT
        self.accepted_value = None

    def commit(self, ballot: Ballot, value: ViewValue) -> bool:
        """Adopt only what this node itself accepted last; anything else is stale."""
        return ballot == self.accepted and value == self.accepted_value


PREPARE = "prepare"
ACCEPT = "accept"


@dataclass
class Round:
    """One proposal in flight."""

    ballot: Ballot
    members: tuple[int, ...]
    started: int
    quiesced: tuple[int, ...] = ()  # quiesced members the proposed view will carry
    phase: str = PREPARE
    promises: dict[int, int] = field(default_factory=dict)  # node -> max epoch it knows
    accepted: set[int] = field(default_factory=set)
    value: ViewValue | None = None
    last_send: int = 0

    def waiting(self) -> list[int]:
        done = self.promises if self.phase == PREPARE else self.accepted
        return [n for n in self.members if n not in done]


class Proposer:
    """Ballot numbering and the bookkeeping of the current round (at most one)."""

    def __init__(self, node_id: int):
        self.node_id = node_id
        self.counter = 0
        self.round: Round | None = None

    def observe(self, ballot: Ballot) -> None:
        """Remember the highest counter seen anywhere, so our next ballot beats it."""
        if ballot.counter > self.counter:
            self.counter = ballot.counter

    def start(self, members: tuple[int, ...], now: int, quiesced: tuple[int, ...] = ()) -> Round:
        self.counter += 1
        self.round = Round(
            Ballot(self.counter, self.node_id), members, now, quiesced, last_send=now
        )
        return self.round

    def on_promise(self, src: int, ballot: Ballot, max_epoch: int) -> bool:
        """True when every member has promised (phase 1 complete)."""
        r = self.round
        if r is None or r.phase != PREPARE or ballot != r.ballot or src not in r.members:
            return False
        r.promises[src] = max_epoch
        return len(r.promises) == len(r.members)

    def begin_accept(self, value: ViewValue, now: int) -> Round:
        r = self.round
        assert r is not None and r.phase == PREPARE
        r.phase = ACCEPT
        r.value = value
        r.last_send = now
        return r

    def on_accepted(self, src: int, ballot: Ballot) -> bool:
        """True when every member has accepted (the value is chosen)."""
        r = self.round
        if r is None or r.phase != ACCEPT or ballot != r.ballot or src not in r.members:
            return False
        r.accepted.add(src)
        return len(r.accepted) == len(r.members)

    def abort(self) -> Round | None:
        r, self.round = self.round, None
        return r
