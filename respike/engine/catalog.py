"""The system-metadata catalog: what every node of a cluster must hold the same copy of
(function libraries, record UDF modules), kept across restarts.

As Aerospike's system metadata (SMD), items are grouped by module and every node keeps
all of them. A change is an `Entry` stamped with a hybrid clock (milliseconds, moved past
every stamp seen) and the node that made it; between two entries of one item the higher
(stamp, origin) wins, and a deletion is an entry without a value, so merging any two
catalogs in any order gives the same result. How entries travel between nodes is
cluster/metadata.py's job; this module keeps them, persists them and tells listeners.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import msgpack

log = logging.getLogger("respike.catalog")

Listener = Callable[[str, bytes | None], None]  # (item key, value; None = deleted)


@dataclass(frozen=True, slots=True)
class Entry:
    value: bytes | None  # None: the item was deleted
    stamp: int  # hybrid clock, ms
    origin: int  # node that made the change (breaks ties between equal stamps)

    def beats(self, other: Entry | None) -> bool:
        return other is None or self._order() > other._order()

    def _order(self) -> tuple[int, int, bool, bytes]:
        # One node never stamps two changes alike; the value only makes the order total.
        return (self.stamp, self.origin, self.value is None, self.value or b"")

    def pack(self) -> bytes:
        return msgpack.packb([self.value, self.stamp, self.origin], use_bin_type=True)

    @staticmethod
    def unpack(data: bytes) -> Entry:
        value, stamp, origin = msgpack.unpackb(data, raw=False)
        return Entry(value, stamp, origin)


class CatalogStore(Protocol):
    """Where entries persist (engine/smd.py's lmdb); absent in the simulator."""

    def catalog_entries(self) -> dict[tuple[str, str], bytes]: ...

    def put_catalog(self, items: list[tuple[str, str, bytes]]) -> None: ...


class Catalog:
    def __init__(
        self,
        node_id: int,
        store: CatalogStore | None = None,
        now_ms: Callable[[], int] | None = None,
    ):
        self.node_id = node_id
        self.store = store
        self.now_ms = now_ms if now_ms is not None else (lambda: time.time_ns() // 1_000_000)
        self.entries: dict[tuple[str, str], Entry] = {}
        self.listeners: dict[str, list[Listener]] = {}
        self.last_stamp = 0
        self._digest: bytes | None = None
        self.changes: list[tuple[str, str, Entry]] = []  # made here, for the cluster to send
        if store is not None:
            for (module, key), packed in store.catalog_entries().items():
                entry = Entry.unpack(packed)
                self.entries[(module, key)] = entry
                self.last_stamp = max(self.last_stamp, entry.stamp)

    # --- reading -------------------------------------------------------------------------

    def get(self, module: str, key: str) -> bytes | None:
        entry = self.entries.get((module, key))
        return None if entry is None else entry.value

    def items(self, module: str) -> dict[str, bytes]:
        """The module's live items, by key."""
        return {
            k: e.value
            for (m, k), e in sorted(self.entries.items())
            if m == module and e.value is not None
        }

    def digest(self) -> bytes:
        """8 bytes that differ between two nodes whose catalogs differ (pulses carry it)."""
        if self._digest is None:
            h = hashlib.blake2b(digest_size=8)
            for (module, key), entry in sorted(self.entries.items()):
                h.update(msgpack.packb([module, key, entry.stamp, entry.origin]))
            self._digest = h.digest() if self.entries else b""
        return self._digest

    def all_entries(self) -> list[tuple[str, str, Entry]]:
        return [(m, k, e) for (m, k), e in sorted(self.entries.items())]

    # --- changing ------------------------------------------------------------------------

    def listen(self, module: str, listener: Listener) -> None:
        """Call `listener` for every change of the module's items (made here or merged)."""
        self.listeners.setdefault(module, []).append(listener)

    def set(self, module: str, key: str, value: bytes | None) -> Entry:
        """A change made on this node (value None: delete); listeners are told."""
        stamp = max(self.now_ms(), self.last_stamp + 1)
        entry = Entry(value, stamp, self.node_id)
        self._store([(module, key, entry)])
        self.changes.append((module, key, entry))
        return entry

    def delete(self, module: str, key: str) -> bool:
        """Delete an item; False if there was none."""
        if self.get(module, key) is None:
            return False
        self.set(module, key, None)
        return True

    def merge(self, entries: list[tuple[str, str, Entry]]) -> int:
        """Entries from another node: those that beat ours are kept (in one commit) and
        listeners told. Returns how many were kept."""
        best: dict[tuple[str, str], Entry] = {}
        for m, k, e in entries:
            if e.beats(best.get((m, k), self.entries.get((m, k)))):
                best[(m, k)] = e
        kept = [(m, k, e) for (m, k), e in best.items()]
        if kept:
            self._store(kept)
        return len(kept)

    def take_changes(self) -> list[tuple[str, str, Entry]]:
        changes, self.changes = self.changes, []
        return changes

    def _store(self, entries: list[tuple[str, str, Entry]]) -> None:
        if self.store is not None:
            self.store.put_catalog([(m, k, e.pack()) for m, k, e in entries])
        self._digest = None
        for module, key, entry in entries:
            old = self.entries.get((module, key))
            self.entries[(module, key)] = entry
            self.last_stamp = max(self.last_stamp, entry.stamp)
            if (old.value if old is not None else None) != entry.value:
                self._tell(module, key, entry.value)

    def _tell(self, module: str, key: str, value: bytes | None) -> None:
        """A listener that cannot take a change (a library that does not load here) logs
        it; the entry is kept, so every node still holds the same catalog."""
        for listener in self.listeners.get(module, ()):
            try:
                listener(key, value)
            except Exception:
                log.exception("system metadata %s/%s: a listener refused the change", module, key)
