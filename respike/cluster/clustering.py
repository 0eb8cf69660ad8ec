"""Cluster membership: who leads, which nodes form the cluster, and agreeing on it by Paxos.

A *view* is (cluster key, succession list, epoch, quiesced members). The succession list is
ordered by node id descending; its first node is the principal. The quiesced members are
those whose pulses said they are quiesced when the principal proposed the view; they are
part of the agreed value because the partition table depends on them (partition_table.py).
Only a principal proposes views, and the rules below decide who considers itself one, whom
it may take, and whom a node lets take it. They are chosen so that, once the network stops
changing, exactly one outcome is stable and every node reaches it (no flapping):

* **Who leads.** The principal of a view leads it. A member whose principal is alive
  follows it. A node without a view (an *orphan*), or whose principal it cannot hear,
  leads if it hears no higher node. It waits for a higher node that will take it (one
  that hears it, leads or is about to, and whose whole cluster hears it) and while a
  higher node's proposal for it is in flight. If the higher nodes it hears would not take
  it, it leads after `patience_ms` (over lower nodes only): that is how a node that the
  higher principal evicted ends up in a cluster of its own instead of waiting forever.
* **Whom a principal takes.** Lower nodes that hear it and are not bound to another live,
  higher principal: orphans, its own members, nodes whose principal is dead to them, and
  nodes in a cluster led by a lower principal (so when two clusters meet, the one with the
  higher principal absorbs the other). Among those it keeps the largest *clique*: nodes
  that all hear each other, judged from gossiped adjacency lists (Aerospike's clique
  eviction). Ties prefer current members, then higher ids, so the choice is stable: in the
  half-connected case (A hears B and C, B and C do not hear each other) the principal keeps
  one of them for good and the other forms its own cluster.
* **Whom a node lets take it** (checked on prepare and accept): a proposer it hears, that
  is the highest node of the proposal, when the node is an orphan, or the proposer is its
  principal, or its principal is dead to it, or the proposer is higher than its principal.
* **Not too fast.** A view that leaves out a node which we or a member of the view hear is
  only proposed once that has lasted `patience_ms`; a new principal waits for lower nodes
  that still follow a principal dead to us; an orphan that knows of nodes it cannot hear
  waits before forming a cluster without them. A brief link drop, a late pulse or a node
  that just booted must not produce two clusters side by side, which would both take writes.
* **When to propose.** After the inputs (alive set, peers' pulses) have been unchanged for
  `quantum_ms` (debounce, so a burst of discoveries makes one view change), if the wanted
  succession differs from the current one, if a member's pulses still show another cluster
  key `grace_ms` after the commit (it restarted, or missed the commit), or if the node asks
  for a *balance* view (migrations of the current view finished and some partition is still
  served by an acting master: a new view moves mastership back to the natural master at a
  point every node agrees on), or if the members' quiesce flags differ from the view's
  quiesced set (a *quiesce* view: same members, a table that moves the quiesced ones to the
  end of every row, reached through the usual exchange and migrations).

A node that notices it was paused longer than half the heartbeat timeout abandons its view
(`abandon`): the others have probably evicted it and moved on, and a node serving an old
view could accept writes that lose to newer ones when copies are reconciled.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass

from .heartbeat import Heartbeat
from .messages import (
    Ballot,
    PaxosAccept,
    PaxosAccepted,
    PaxosCommit,
    PaxosNack,
    PaxosPrepare,
    PaxosPromise,
    Send,
)
from .paxos import ACCEPT, PREPARE, Acceptor, Proposer, ViewValue

log = logging.getLogger("respike.cluster")

CLUSTER_KEY_BITS = 48
MAX_EXACT_CLIQUE = 12  # candidates beyond this use a greedy clique (CE clusters are <= 8)


@dataclass(frozen=True, slots=True)
class View:
    """An agreed cluster view.

    `quiesced`: members (in succession order) that were quiesced when the view was
    proposed. Every node builds the partition table from (succession, quiesced) of the view
    it committed, never from the flags it last heard itself, so they all build the same one.
    """

    cluster_key: int
    succession: tuple[int, ...]
    epoch: int
    quiesced: tuple[int, ...] = ()

    @property
    def principal(self) -> int:
        return self.succession[0]

    def __str__(self) -> str:
        nodes = ",".join(f"{n:016x}" for n in self.succession)
        text = f"key {self.cluster_key:012x} epoch {self.epoch} [{nodes}]"
        if self.quiesced:
            text += " quiesced [" + ",".join(f"{n:016x}" for n in self.quiesced) + "]"
        return text


@dataclass(frozen=True, slots=True)
class ClusteringTiming:
    quantum_ms: int = 300
    patience_ms: int = 1500
    grace_ms: int = 450
    round_timeout_ms: int = 600
    resend_ms: int = 150

    @classmethod
    def for_heartbeat(cls, interval_ms: int, timeout_intervals: int) -> ClusteringTiming:
        return cls(
            quantum_ms=2 * interval_ms,
            patience_ms=max(8 * interval_ms, interval_ms * timeout_intervals),
            grace_ms=3 * interval_ms,
            round_timeout_ms=4 * interval_ms,
            resend_ms=interval_ms,
        )


def describe(view: View | None) -> str:
    return "orphan" if view is None else str(view)


class Clustering:
    def __init__(
        self,
        node_id: int,
        rng: random.Random,
        timing: ClusteringTiming,
        now: int,
        forget_promises: bool = False,
    ):
        self.node_id = node_id
        self.rng = rng
        self.timing = timing
        self.view: View | None = None
        self.max_epoch = 0
        self.committed_at = now
        self.acceptor = Acceptor(forget_promises)
        self.proposer = Proposer(node_id)
        self.leaderless_since: int | None = now
        self.backoff_until = 0
        self.view_changes = 0
        self.quiesced = False  # this node's own quiesce flag (ClusterNode.set_quiesced)
        self.changes: list[tuple[View | None, View | None]] = []  # drained by the node
        self._seen_hb = -1
        self._seen_view: View | None = None
        self._inputs_changed_at = now
        self._desired: tuple[int, ...] = (node_id,)
        self._desired_quiesced: tuple[int, ...] = ()
        self._seen_quiesced = False
        self._last_commit: tuple[Ballot, View] | None = None
        self._last_commit_send = 0
        self._laggards_since: int | None = None
        self._excluding_since: int | None = None
        self._promised_to = 0
        self._promised_at = 0

    # --- view changes -------------------------------------------------------------------

    def _adopt(self, view: View | None, now: int, why: str) -> None:
        old = self.view
        if old == view:
            return
        self.view = view
        self.committed_at = now
        if view is not None:
            self.max_epoch = max(self.max_epoch, view.epoch)
        self.view_changes += 1
        self.changes.append((old, view))
        old_nodes = set(old.succession) if old else set()
        new_nodes = set(view.succession) if view else set()
        log.info(
            "node %016x cluster view change (%s): %s -> %s; joined [%s] left [%s]",
            self.node_id,
            why,
            describe(old),
            describe(view),
            ",".join(f"{n:016x}" for n in sorted(new_nodes - old_nodes, reverse=True)),
            ",".join(f"{n:016x}" for n in sorted(old_nodes - new_nodes, reverse=True)),
        )

    def abandon(self, now: int, why: str) -> None:
        """Leave the current view (keep data) and become an orphan."""
        self.proposer.abort()
        self.acceptor.forget_accepted()  # a late re-sent commit must not bring the old view back
        self._adopt(None, now, why)
        self.leaderless_since = now

    def take_changes(self) -> list[tuple[View | None, View | None]]:
        changes, self.changes = self.changes, []
        return changes

    # --- leadership ---------------------------------------------------------------------

    def _leads(self, hb: Heartbeat, now: int) -> bool:
        v = self.view
        taken = (
            self._promised_to > self.node_id
            and now - self._promised_at < self.timing.round_timeout_ms
        )  # a higher node is proposing a view with us in it right now
        if v is not None and v.principal == self.node_id:
            self.leaderless_since = None
            return not taken  # a principal that agreed to join a higher one waits for it
        if v is not None and hb.is_alive(v.principal):
            self.leaderless_since = None
            return False
        if self.leaderless_since is None:
            self.leaderless_since = now
        if taken:
            return False
        higher = [n for n in hb.alive() if n > self.node_id]
        if not higher:
            return True
        if any(self._would_take_us(n, hb) for n in higher):
            return False
        return now - self.leaderless_since >= self.timing.patience_ms

    def _would_take_us(self, node: int, hb: Heartbeat) -> bool:
        """Will `node` (higher than us) take us into its cluster soon?

        True if it hears us, does not follow a live principal of its own (it is an orphan,
        a principal, or its principal is dead to it) and every member of its cluster that
        it still hears also hears us: then we are in its biggest clique and must wait for
        it rather than form a cluster of our own next to it (a split brain in a healthy
        network). Otherwise it may have evicted us on purpose (clique eviction), and after
        `patience_ms` we lead.
        """
        pulse = hb.pulse_of(node)
        if pulse is None:
            return False
        adj = {n for n, _ in pulse.adjacency}
        if self.node_id not in adj:
            return False
        succession = pulse.succession
        if succession and succession[0] != node and succession[0] in adj:
            return False
        for m in succession:
            if m in (node, self.node_id) or m not in adj:
                continue
            p = hb.pulse_of(m)
            if p is None or all(n != self.node_id for n, _ in p.adjacency):
                return False
        return True

    def _eligible(self, node: int, hb: Heartbeat) -> bool:
        """Would `node` accept a proposal from this node (judged from its last pulse)?"""
        pulse = hb.pulse_of(node)
        if pulse is None or node > self.node_id:
            return False
        adj = {n for n, _ in pulse.adjacency}
        if self.node_id not in adj:
            return False
        if not pulse.succession:
            return True
        principal = pulse.succession[0]
        return principal == self.node_id or principal < self.node_id or principal not in adj

    def _laggards(self, hb: Heartbeat) -> bool:
        """Are there lower nodes that still follow a principal that is dead to us?

        Failure detection is not simultaneous: when a principal dies (or pauses), the next
        node may notice before the others, which still hear the old principal for up to a
        heartbeat interval. Proposing now would leave them out and make a second,
        overlapping cluster; so we wait for them (at most `patience_ms`).
        """
        me = self.node_id
        for n in hb.alive():
            if n > me:
                continue
            pulse = hb.pulse_of(n)
            if pulse is None or not pulse.succession:
                continue
            principal = pulse.succession[0]
            if (
                principal > me
                and not hb.is_alive(principal)
                and any(m == principal for m, _ in pulse.adjacency)
            ):
                return True
        return False

    def _leaves_out_a_visible_node(self, hb: Heartbeat, desired: tuple[int, ...]) -> bool:
        """Would `desired` leave out a node that we or one of its members hear?

        Such a view is right when the node really cannot be in a clique with us (it is cut
        off from some of us, or follows a higher principal), but a link that drops for a
        moment, a pulse that is late or a node that just booted look the same for a while.
        Leaving a reachable node out makes two clusters side by side that both accept
        writes, so the exclusion must persist for `patience_ms` before it is proposed
        (Aerospike likewise evicts only after the adjacency has settled).
        """
        members = set(desired)
        if any(n not in members for n in hb.alive()):
            return True
        for m in desired:
            if m == self.node_id:
                continue
            pulse = hb.pulse_of(m)
            if pulse is not None and any(
                n not in members and n != self.node_id for n, _ in pulse.adjacency
            ):
                return True
        return False

    def _compute_desired(self, hb: Heartbeat) -> tuple[int, ...]:
        me = self.node_id
        others = sorted((n for n in hb.alive() if self._eligible(n, hb)), reverse=True)
        if not others:
            return (me,)
        adjs = {}
        for n in others:
            pulse = hb.pulse_of(n)
            adjs[n] = {m for m, _ in pulse.adjacency} if pulse else set()
        current = set(self.view.succession) if self.view else set()
        # Neighbour bitmasks among `others` (mutual adjacency); every one hears us and we
        # hear every one (they are alive and eligible).
        k = len(others)
        nbr = [0] * k
        for i in range(k):
            for j in range(k):
                if i != j and others[j] in adjs[others[i]] and others[i] in adjs[others[j]]:
                    nbr[i] |= 1 << j

        def score(members: list[int]) -> tuple:
            return (len(members), sum(1 for m in members if m in current), tuple(members))

        best: list[int] = []
        if k <= MAX_EXACT_CLIQUE:
            best_score = score(best)
            for mask in range(1, 1 << k):
                ok = True
                m = mask
                while m:
                    low = m & -m
                    i = low.bit_length() - 1
                    if mask & ~nbr[i] & ~low:
                        ok = False
                        break
                    m ^= low
                if not ok:
                    continue
                members = [others[i] for i in range(k) if mask >> i & 1]
                s = score(members)
                if s > best_score:
                    best, best_score = members, s
        else:
            order = sorted(range(k), key=lambda i: (others[i] not in current, -others[i]))
            chosen = 0
            for i in order:
                if chosen & ~nbr[i] == 0:
                    chosen |= 1 << i
            best = [others[i] for i in range(k) if chosen >> i & 1]
        return tuple([me] + sorted(best, reverse=True))

    def _quiesced_among(self, hb: Heartbeat, members: tuple[int, ...]) -> tuple[int, ...]:
        """Members that say they are quiesced (our own flag, the others' last pulses)."""
        out = []
        for n in members:
            if n == self.node_id:
                flag = self.quiesced
            else:
                pulse = hb.pulse_of(n)
                flag = pulse is not None and pulse.quiesced
            if flag:
                out.append(n)
        return tuple(out)

    # --- the principal's decisions ------------------------------------------------------

    def evaluate(self, hb: Heartbeat, now: int, balance_wanted: bool) -> list[Send]:
        """Called on every tick: detect eviction, and propose a view when one is needed."""
        if (
            hb.changes != self._seen_hb
            or self.view != self._seen_view
            or self.quiesced != self._seen_quiesced
        ):
            self._seen_hb = hb.changes
            self._seen_view = self.view
            self._seen_quiesced = self.quiesced
            self._inputs_changed_at = now
            self._desired = self._compute_desired(hb)
            self._desired_quiesced = self._quiesced_among(hb, self._desired)
            if self._laggards(hb):
                if self._laggards_since is None:
                    self._laggards_since = now
            else:
                self._laggards_since = None
            if self._leaves_out_a_visible_node(hb, self._desired):
                if self._excluding_since is None:
                    self._excluding_since = now
            else:
                self._excluding_since = None
        self._learn_commit(hb, now)
        v = self.view
        if v is not None and v.principal != self.node_id and hb.is_alive(v.principal):
            self._check_evicted(hb, now)
        if self.proposer.round is not None:
            return self._round_tick(now)
        if not self._leads(hb, now) or now < self.backoff_until:
            return []
        if now - self._inputs_changed_at < self.timing.quantum_ms:
            return []
        if (
            self._laggards_since is not None
            and now - self._laggards_since < self.timing.patience_ms
        ):
            return []
        if (
            self._excluding_since is not None
            and now - self._excluding_since < self.timing.patience_ms
        ):
            return []
        v = self.view
        desired = self._desired
        if v is None:
            # An orphan that knows of nodes (seeds, former peers) it cannot hear gives them
            # `patience_ms` before forming a cluster without them: a node that just booted
            # empty and formed a cluster of its own because of a lost pulse or a brief link
            # problem would accept writes that lose to the real copies later.
            since = self.leaderless_since if self.leaderless_since is not None else now
            if now - since < self.timing.patience_ms and any(
                n not in desired for n, _ in hb.targets()
            ):
                return []
            return self._start_round(desired, self._desired_quiesced, now, "forming")
        if self._last_commit is not None:
            resend = self._resend_commit(hb, now)
            if resend:
                return resend
        if desired != v.succession:
            why = "membership"
        elif self._member_out_of_date(hb, now):
            why = "member out of date"
        elif self._desired_quiesced != v.quiesced:
            why = "quiesce"
        elif balance_wanted:
            why = "balance"
        else:
            return []
        return self._start_round(desired, self._desired_quiesced, now, why)

    def _learn_commit(self, hb: Heartbeat, now: int) -> None:
        """Adopt the view this node accepted once its proposer's pulse carries its key.

        A commit message can be lost, and the proposer re-sends it only for a short while.
        Its pulses are proof enough: it puts a fresh random cluster key in them only after
        every member accepted that view and it committed it. Without this, a principal that
        accepted a higher node's view and missed the commit goes on as the principal of
        its old view, drops the members that did move, and serves their partitions alone
        next to the new cluster (a split brain with no fault in the network).
        """
        value = self.acceptor.accepted_value
        if value is None or (self.view is not None and self.view.cluster_key == value.cluster_key):
            return
        proposer = value.succession[0]
        pulse = hb.pulse_of(proposer)
        if proposer == self.node_id or pulse is None or pulse.cluster_key != value.cluster_key:
            return
        view = View(value.cluster_key, value.succession, value.epoch, value.quiesced)
        self._adopt(view, now, f"committed by {proposer:016x}, learned from its heartbeat")

    def _check_evicted(self, hb: Heartbeat, now: int) -> None:
        v = self.view
        assert v is not None
        pulse = hb.pulse_of(v.principal)
        if pulse is None or pulse.cluster_key == v.cluster_key:
            return
        if self.node_id in pulse.succession:
            return  # the principal is moving us to a newer view; wait for its commit
        if hb.heard_at(v.principal) - self.committed_at > self.timing.grace_ms:
            self.abandon(now, f"evicted by principal {v.principal:016x}")

    def _resend_commit(self, hb: Heartbeat, now: int) -> list[Send]:
        """Members whose pulses, sent after our commit, still show another cluster key
        probably lost the commit: send it again (a node that accepted the ballot adopts it;
        a restarted node ignores it and `_member_out_of_date` re-proposes later)."""
        ballot, v = self._last_commit  # type: ignore[misc]
        if v != self.view or now - self._last_commit_send < self.timing.resend_ms:
            return []
        if now - self.committed_at > self.timing.grace_ms:
            return []  # past the grace period `_member_out_of_date` takes over
        sends = []
        for n in v.succession:
            if n == self.node_id:
                continue
            pulse = hb.pulse_of(n)
            if (
                pulse is not None
                and pulse.cluster_key != v.cluster_key
                and hb.heard_at(n) > self.committed_at + self.timing.resend_ms
            ):
                sends.append(
                    Send(n, PaxosCommit(ballot, v.cluster_key, v.succession, v.epoch, v.quiesced))
                )
        if sends:
            self._last_commit_send = now
        return sends

    def _member_out_of_date(self, hb: Heartbeat, now: int) -> bool:
        v = self.view
        assert v is not None
        for n in v.succession:
            if n == self.node_id:
                continue
            pulse = hb.pulse_of(n)
            if pulse is None:
                continue
            # Late enough that the last re-sent commit had time to land and a pulse to
            # come back: the member really is on another view (it restarted, or lost
            # every copy of the commit).
            late = self.timing.grace_ms + 2 * self.timing.resend_ms
            if pulse.cluster_key != v.cluster_key and hb.heard_at(n) - self.committed_at > late:
                return True
        return False

    def _start_round(
        self, members: tuple[int, ...], quiesced: tuple[int, ...], now: int, why: str
    ) -> list[Send]:
        r = self.proposer.start(members, now, quiesced)
        log.debug("node %016x proposes %s quiesced %s (%s)", self.node_id, members, quiesced, why)
        if not self.acceptor.prepare(r.ballot):
            self._fail_round(now, "own acceptor promised a higher ballot")
            return []
        r.promises[self.node_id] = self.max_epoch
        if len(r.promises) == len(r.members):
            return self._phase2(now)
        return [Send(n, PaxosPrepare(r.ballot, members)) for n in r.waiting()]

    def _phase2(self, now: int) -> list[Send]:
        r = self.proposer.round
        assert r is not None
        epoch = max(r.promises.values()) + 1
        key = 0
        while key == 0:
            key = self.rng.getrandbits(CLUSTER_KEY_BITS)
        value = ViewValue(key, r.members, epoch, r.quiesced)
        self.proposer.begin_accept(value, now)
        self.acceptor.accept(r.ballot, value)
        r.accepted.add(self.node_id)
        if len(r.accepted) == len(r.members):
            return self._commit(now)
        return [
            Send(n, PaxosAccept(r.ballot, key, r.members, epoch, r.quiesced)) for n in r.waiting()
        ]

    def _commit(self, now: int) -> list[Send]:
        r = self.proposer.abort()
        assert r is not None and r.value is not None
        value = r.value
        if not self.acceptor.commit(r.ballot, value):
            # Our own acceptor moved on to a competing proposal meanwhile: do not commit.
            self._fail_round(now, "own acceptor accepted a higher ballot")
            return []
        view = View(value.cluster_key, value.succession, value.epoch, value.quiesced)
        self._adopt(view, now, "committed as principal")
        self._last_commit = (r.ballot, view)
        self._last_commit_send = now
        commit = PaxosCommit(
            r.ballot, value.cluster_key, value.succession, value.epoch, value.quiesced
        )
        return [Send(n, commit) for n in r.members if n != self.node_id]

    def _fail_round(self, now: int, why: str) -> None:
        r = self.proposer.abort()
        log.debug("node %016x proposal %s failed: %s", self.node_id, r.ballot if r else None, why)
        self.backoff_until = (
            now + self.timing.quantum_ms + self.rng.randrange(self.timing.resend_ms + 1)
        )

    def _round_tick(self, now: int) -> list[Send]:
        r = self.proposer.round
        assert r is not None
        if now - r.started > self.timing.round_timeout_ms:
            self._fail_round(now, f"no answer from {[f'{n:016x}' for n in r.waiting()]}")
            return []
        if now - r.last_send < self.timing.resend_ms:
            return []
        r.last_send = now
        if r.phase == PREPARE:
            return [Send(n, PaxosPrepare(r.ballot, r.members)) for n in r.waiting()]
        assert r.value is not None
        v = r.value
        return [
            Send(n, PaxosAccept(r.ballot, v.cluster_key, v.succession, v.epoch, v.quiesced))
            for n in r.waiting()
        ]

    # --- messages -----------------------------------------------------------------------

    def _refusal(self, src: int, succession: tuple[int, ...], hb: Heartbeat) -> str | None:
        me = self.node_id
        if me not in succession:
            return "not in the proposed succession list"
        if not succession or succession[0] != src or max(succession) != src:
            return "proposer is not the highest node of its proposal"
        if not hb.is_alive(src):
            return "proposer is not reachable from this node"
        v = self.view
        if v is None:
            return None
        principal = v.principal
        if principal == src:
            return None
        if principal == me:
            return None if src > me else "this node is a higher principal"
        if not hb.is_alive(principal):
            return None
        if src > principal:
            return None
        return f"bound to live principal {principal:016x}"

    def on_prepare(self, src: int, msg: PaxosPrepare, hb: Heartbeat, now: int) -> list[Send]:
        self.proposer.observe(msg.ballot)
        reason = self._refusal(src, msg.succession, hb)
        if reason is None and not self.acceptor.prepare(msg.ballot):
            reason = "promised a higher ballot"
        if reason is not None:
            return [Send(src, PaxosNack(msg.ballot, self.acceptor.promised, reason))]
        self._promised_to, self._promised_at = src, now
        own = self.proposer.round
        if own is not None and own.ballot < msg.ballot:
            self._fail_round(now, f"yielded to {src:016x}")
        return [Send(src, PaxosPromise(msg.ballot, self.max_epoch))]

    def on_accept(self, src: int, msg: PaxosAccept, hb: Heartbeat, now: int) -> list[Send]:
        self.proposer.observe(msg.ballot)
        reason = self._refusal(src, msg.succession, hb)
        value = ViewValue(msg.cluster_key, msg.succession, msg.epoch, msg.quiesced)
        if reason is None and not self.acceptor.accept(msg.ballot, value):
            reason = "promised a higher ballot"
        if reason is not None:
            return [Send(src, PaxosNack(msg.ballot, self.acceptor.promised, reason))]
        self._promised_to, self._promised_at = src, now
        return [Send(src, PaxosAccepted(msg.ballot))]

    def on_commit(self, src: int, msg: PaxosCommit, now: int) -> None:
        value = ViewValue(msg.cluster_key, msg.succession, msg.epoch, msg.quiesced)
        if self.acceptor.commit(msg.ballot, value):
            view = View(msg.cluster_key, msg.succession, msg.epoch, msg.quiesced)
            self._adopt(view, now, f"committed by {src:016x}")

    def on_promise(self, src: int, msg: PaxosPromise, now: int) -> list[Send]:
        if self.proposer.on_promise(src, msg.ballot, msg.max_epoch):
            return self._phase2(now)
        return []

    def on_accepted(self, src: int, msg: PaxosAccepted, now: int) -> list[Send]:
        if self.proposer.on_accepted(src, msg.ballot):
            return self._commit(now)
        return []

    def on_nack(self, src: int, msg: PaxosNack, now: int) -> None:
        self.proposer.observe(msg.promised)
        r = self.proposer.round
        if r is not None and r.ballot == msg.ballot:
            self._fail_round(now, f"{src:016x} refused: {msg.reason}")


__all__ = ["ACCEPT", "Ballot", "Clustering", "ClusteringTiming", "View", "describe"]
