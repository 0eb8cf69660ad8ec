"""Where a namespace's records live. The namespace talks to one of these and nothing else.

The memory engine keeps live Record objects in a dict keyed by the Redis key (the digest
is a function of the key, so the key is an equivalent identity and saves hashing on every
request), plus the set of keys of each partition so scans, truncates and migrations walk
one partition at a time. The device engine (respike/engine/device/) plugs in behind the
same interface.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator

from ..keyspace import N_PARTITIONS
from .record import Record


class Storage(ABC):
    """What a namespace needs from a storage engine.

    `get` may return the live record (memory) or a decoded copy (device); callers commit
    every change through `put`, so both behave the same. An abstract base class rather
    than a Protocol: compiled, the namespace's calls into its engine are direct C calls
    (mypy checks that an engine implements every abstract method).
    """

    @abstractmethod
    def get(self, key: bytes) -> Record | None:
        """The stored record, expired or truncated or not: the namespace serves a record
        with a void-time, or any record while truncate cutoffs exist, through its get()."""
        ...

    @abstractmethod
    def get_meta(self, key: bytes) -> Record | None:
        """The record, its value possibly not decoded (None): for a write that replaces
        the whole value and only needs generation, times and size."""
        ...

    @abstractmethod
    def put(self, key: bytes, pid: int, rec: Record, created: bool) -> None:
        """Store `rec`; `pid` is the key's partition when `created` (else it may be -1)."""
        ...

    @abstractmethod
    def delete(self, key: bytes, pid: int, rec: Record) -> None: ...

    @abstractmethod
    def partition_keys(self, pid: int) -> list[bytes]: ...

    @abstractmethod
    def partition_count(self, pid: int) -> int: ...

    @abstractmethod
    def keys(self) -> Iterator[bytes]: ...

    @abstractmethod
    def count(self) -> int: ...

    @abstractmethod
    def info(self) -> dict[str, object]: ...

    @abstractmethod
    def clear(self) -> None: ...

    @abstractmethod
    def truncated(self, setname: bytes | None, cutoff: int) -> None: ...

    def attach(self, ns) -> None:
        """Called by the namespace it serves (the device engine keeps its space state,
        set names and restart accounting there)."""
        return None

    async def start(self) -> None:
        """Open the device and start background work (writer, defrag) before serving."""
        return None

    def sweep_candidates(
        self, pid: int, now: int, evict_before: int, cutoffs: dict[bytes | None, int]
    ) -> list[tuple[bytes, Record]]:
        """Records of partition `pid` that nsup should look at (it checks each again): all
        of them here; the device engine picks the expired, truncated or evictable ones
        from its index, so only those are read."""
        return [
            (key, rec) for key in self.partition_keys(pid) if (rec := self.get(key)) is not None
        ]

    def eviction_cutoff(self, tenths_pct: int) -> int:
        """Void-time below which records go, so that ~tenths_pct/1000 of those with a
        void-time are evicted (0: none has one). Read from every record here; the device
        engine reads its index."""
        voids = [
            rec.void
            for pid in range(N_PARTITIONS)
            for key in self.partition_keys(pid)
            if (rec := self.get(key)) is not None and rec.void
        ]
        if not voids:
            return 0
        share = max(1, len(voids) * tenths_pct // 1000)
        voids.sort()
        cutoff = voids[min(share, len(voids) - 1)] + (1 if share >= len(voids) else 0)
        return max(cutoff, voids[0] + 1)  # records sharing one void-time still go

    @abstractmethod
    def evict_wanted(self) -> bool:
        """Above evict-used-pct of the device (memory namespaces use memory-size)."""
        ...

    @abstractmethod
    def close(self) -> None: ...


class MemoryStorage(Storage):
    def __init__(self) -> None:
        self.records: dict[bytes, Record] = {}
        self.parts: list[set[bytes]] = [set() for _ in range(N_PARTITIONS)]

    def get(self, key: bytes) -> Record | None:
        return self.records.get(key)

    def get_meta(self, key: bytes) -> Record | None:
        return self.records.get(key)

    def put(self, key: bytes, pid: int, rec: Record, created: bool) -> None:
        if created:
            self.records[key] = rec
            self.parts[pid].add(key)

    def delete(self, key: bytes, pid: int, rec: Record) -> None:
        del self.records[key]
        self.parts[pid].discard(key)

    def partition_keys(self, pid: int) -> list[bytes]:
        return list(self.parts[pid])

    def partition_count(self, pid: int) -> int:
        return len(self.parts[pid])

    def keys(self) -> Iterator[bytes]:
        return iter(list(self.records))

    def count(self) -> int:
        return len(self.records)

    def info(self) -> dict[str, object]:
        return {}

    def clear(self) -> None:
        self.records.clear()
        for part in self.parts:
            part.clear()

    def truncated(self, setname: bytes | None, cutoff: int) -> None:
        pass

    def evict_wanted(self) -> bool:
        return False

    def close(self) -> None:
        pass
