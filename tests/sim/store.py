"""A dict-backed RecordStore: what the simulator gives each node instead of the engine."""

from __future__ import annotations

from respike.cluster.records import RecordCopy


class DictStore:
    """Records per namespace and partition, memory only (a crash loses everything)."""

    def __init__(self, n_partitions: int):
        self.n_partitions = n_partitions
        self.data: dict[str, list[dict[bytes, RecordCopy]]] = {}

    def _part(self, ns: str, pid: int) -> dict[bytes, RecordCopy]:
        parts = self.data.get(ns)
        if parts is None:
            parts = self.data[ns] = [{} for _ in range(self.n_partitions)]
        return parts[pid]

    def partition_keys(self, ns: str, pid: int) -> list[bytes]:
        return list(self._part(ns, pid))

    def get_copy(self, ns: str, pid: int, key: bytes) -> RecordCopy | None:
        return self._part(ns, pid).get(key)

    def put_copy(self, ns: str, pid: int, key: bytes, copy: RecordCopy) -> None:
        self._part(ns, pid)[key] = copy

    def drop_partition(self, ns: str, pid: int) -> None:
        self._part(ns, pid).clear()

    def partition_count(self, ns: str, pid: int) -> int:
        return len(self._part(ns, pid))

    def count(self) -> int:
        return sum(len(p) for parts in self.data.values() for p in parts)
