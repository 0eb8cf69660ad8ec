"""System metadata distribution: every node ends up with the same catalog
(engine/catalog.py: function libraries, record UDF modules), as Aerospike's SMD.

Two paths, both plain messages (`MetadataEntries`):
- a change made on this node goes to every peer the heartbeat says is alive at the next
  tick;
- every pulse carries the sender's catalog digest: a node whose digest differs from a
  peer's sends that peer its whole catalog (at most once per `resend_ms`), so a node that
  was away, restarted or joins later catches up, and a lost message is repaired.
Merging is last-writer-wins per item (the catalog's rule), so both paths may deliver the
same entry any number of times, in any order.
"""

from __future__ import annotations

from ..engine.catalog import Catalog, Entry
from .messages import MetadataEntries, Send


class MetadataSync:
    def __init__(self, catalog: Catalog, resend_ms: int):
        self.catalog = catalog
        self.resend_ms = resend_ms
        self.sent_all: dict[int, int] = {}  # peer -> when it was last sent the whole catalog
        self.received = 0  # entries taken from peers (statistics)

    def digest(self) -> bytes:
        return self.catalog.digest()

    def tick(self, peers: list[int]) -> list[Send]:
        """This node's own changes, for every live peer."""
        changes = self.catalog.take_changes()
        if not changes or not peers:
            return []
        msg = MetadataEntries(_pack(changes))
        return [Send(peer, msg) for peer in peers]

    def on_pulse(self, src: int, digest: bytes, now: int) -> list[Send]:
        """A peer's pulse: if its catalog differs, send it ours (it sends us its own)."""
        if digest == self.catalog.digest():
            return []
        last = self.sent_all.get(src)
        if last is not None and now - last < self.resend_ms:
            return []
        self.sent_all[src] = now
        return [Send(src, MetadataEntries(_pack(self.catalog.all_entries())))]

    def on_entries(self, msg: MetadataEntries) -> None:
        self.received += self.catalog.merge(
            [(m, k, Entry(v, stamp, origin)) for m, k, v, stamp, origin in msg.entries]
        )


def _pack(entries: list[tuple[str, str, Entry]]) -> tuple[tuple, ...]:
    return tuple((m, k, e.value, e.stamp, e.origin) for m, k, e in entries)
