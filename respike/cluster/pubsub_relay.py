"""Cluster-wide PUBLISH: a message published on one node reaches the subscribers of every
node, once per subscription, and PUBLISH answers how many received it cluster-wide.

The publishing node delivers to its own subscribers (resp/pubsub.py), then sends the
message to every other member of its view (`PubSubPublish`); each delivers to its own
subscribers and answers its count (`PubSubCount`). The fabric keeps one ordered stream per
peer, so messages of one publisher reach every node in publish order. PUBLISH's reply
waits for the counts, bounded by `wait_ms`: a peer that does not answer in time (dead,
cut off) counts 0, and so does one that leaves the view meanwhile. Redis Cluster answers
the publishing node's count only; the sum is what the issue asks for (docs/pubsub.md).

Never re-sent: a message is delivered at most once per subscription (a lost one is lost,
as Redis Cluster's bus may lose it too).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .events import PublishDone
from .messages import PubSubCount, PubSubPublish, Send
from .outstanding import Outstanding

WAIT_MS = 250  # how long PUBLISH's reply waits for the peers' counts


@dataclass(slots=True)
class PendingPublish:
    txn: int
    deadline: int
    receivers: int  # counted so far (this node's own first)
    waiting: set[int] = field(default_factory=set)


class PublishRelay(Outstanding[PendingPublish, PublishDone]):
    def __init__(self, wait_ms: int = WAIT_MS):
        super().__init__(wait_ms)
        self.relayed = 0  # messages sent to peers (statistics)
        self.received = 0  # messages peers relayed here

    def start(
        self, channel: bytes, payload: bytes, local: int, peers: list[int], now: int
    ) -> tuple[int, list[Send]]:
        """Relay a message this node published to `local` subscribers; `PublishDone(txn)`
        follows once every peer answered or `wait_ms` passed (at once without peers)."""
        txn = self.new_txn()
        if not peers:
            self.done.append(PublishDone(txn, local))
            return txn, []
        self.pending[txn] = PendingPublish(txn, now + self.timeout_ms, local, set(peers))
        self.relayed += len(peers)
        msg = PubSubPublish(txn, channel, payload)
        return txn, [Send(peer, msg) for peer in peers]

    def on_count(self, src: int, msg: PubSubCount) -> None:
        p = self.pending.get(msg.txn)
        if p is None or src not in p.waiting:
            return
        p.waiting.discard(src)
        p.receivers += msg.receivers
        if not p.waiting:
            self._finish(p)

    def forget(self, members: set[int]) -> None:
        """The view changed: stop waiting for nodes that left it (they count 0)."""
        for p in list(self.pending.values()):
            p.waiting &= members
            if not p.waiting:
                self._finish(p)

    def expire(self, p: PendingPublish) -> None:
        self._finish(p)

    def _finish(self, p: PendingPublish) -> None:
        del self.pending[p.txn]
        self.done.append(PublishDone(p.txn, p.receivers))
