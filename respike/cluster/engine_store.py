"""The cluster core's record store (records.RecordStore) over the node's engine."""

from __future__ import annotations

from ..engine.engine import Engine
from ..engine.namespace import Namespace
from ..engine.record import pack_value, unpack_value
from .records import RecordCopy


class EngineStore:
    def __init__(self, engine: Engine):
        self.spaces: dict[str, Namespace] = {ns.name: ns for ns in engine.namespaces.values()}
        self.discard_waits = engine.discard_waits  # replica and migration writes answer no client

    def partition_keys(self, ns: str, pid: int) -> list[bytes]:
        space = self.spaces[ns]
        keys = space.storage.partition_keys(pid)
        tombs = space.tombstones.get(pid)
        return keys + list(tombs) if tombs else keys

    def get_copy(self, ns: str, pid: int, key: bytes) -> RecordCopy | None:
        return copy_in(self.spaces[ns], key, pid)

    def put_copy(self, ns: str, pid: int, key: bytes, copy: RecordCopy) -> None:
        value = None if copy.tombstone else unpack_value(copy.kind, copy.value)
        self.spaces[ns].apply_copy(
            key, pid, copy.kind, value, copy.gen, copy.void, copy.lut, copy.tombstone
        )
        self.discard_waits()

    def drop_partition(self, ns: str, pid: int) -> None:
        self.spaces[ns].drop_partition(pid)
        self.discard_waits()

    def partition_count(self, ns: str, pid: int) -> int:
        space = self.spaces[ns]
        tombs = space.tombstones.get(pid)
        return space.storage.partition_count(pid) + (len(tombs) if tombs else 0)


def copy_in(ns: Namespace, key: bytes, pid: int) -> RecordCopy | None:
    """The namespace's copy of `key` as the cluster moves it: the record, a tombstone, or None."""
    rec = ns.storage.get(key)
    if rec is not None:
        return RecordCopy(rec.kind, pack_value(rec.kind, rec.value), rec.gen, rec.void, rec.lut)
    tomb = ns.tombstone(key, pid)
    if tomb is not None:
        return RecordCopy(0, b"", tomb[0], 0, tomb[1], True)
    return None


def copy_of(ns: Namespace, key: bytes, pid: int) -> RecordCopy:
    """The copy a client write left behind (a delete leaves a tombstone)."""
    copy = copy_in(ns, key, pid)
    return copy if copy is not None else RecordCopy(0, b"", 1, 0, ns.clock.ms, True)
