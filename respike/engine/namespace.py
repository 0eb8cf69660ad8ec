"""A namespace: its policies, its records, and the rules every record write obeys.

Record operations are synchronous: the caller (one event-loop step) looks a record up,
decides, and commits with `write`/`delete`, so each command is atomic without locks.
`write` is the one place that enforces limits, bumps generation and last-update-time,
charges memory and hands the record to storage and to the write hook (replication).
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Final
from zlib import crc32

from ..config import NamespaceConfig
from ..errors import RecordError, ResultCode
from ..keyspace import N_PARTITIONS, partition_of, split_key
from .record import (
    HASH,
    INT64_MAX,
    INT64_MIN,
    MAX_GENERATION,
    RECORD_OVERHEAD,
    STRING,
    Record,
    to_bin,
    value_size,
    value_size_of,
)
from .storage import MemoryStorage, Storage

log = logging.getLogger("respike.engine")

KEEP: Final = -1  # void argument: leave the void-time as it is (new records get default-ttl)
DEFAULT: Final = -2  # void argument: the namespace's default-ttl, for new and existing records


class Clock:
    """Milliseconds since the Unix epoch, read once per batch of commands.

    Redis likewise reads the time once per command; reading it once per received chunk
    keeps `time_ns()` off the per-command path. Calling the clock reads the system time
    (and refreshes `ms`); `offset_ms` shifts it, for clock-skew tests.
    """

    __slots__ = ("ms", "offset_ms")

    def __init__(self, offset_ms: int = 0):
        self.offset_ms = offset_ms
        self.ms = 0
        self()

    def __call__(self) -> int:
        self.ms = time.time_ns() // 1_000_000 + self.offset_ms
        return self.ms


@dataclass
class Counters:
    """Aerospike-style per-namespace statistics."""

    client_read_success: int = 0
    client_read_not_found: int = 0
    client_write_success: int = 0
    client_write_error: int = 0
    client_delete_success: int = 0
    client_delete_not_found: int = 0
    fail_generation: int = 0
    fail_key_busy: int = 0
    fail_record_too_big: int = 0
    expired_objects: int = 0
    evicted_objects: int = 0
    truncated_objects: int = 0


WriteHook = Callable[[bytes, "Record | None"], None]

# What happened to a key, as told to the change listener (`Namespace.on_change`): the
# resp layer turns these into keyspace notifications and client-side-caching
# invalidations; the engine itself knows nothing of either.
WRITTEN: Final = 1  # a client write changed an existing record
CREATED: Final = 2  # a client write created the record
DELETED: Final = 3  # a client delete
EXPIRED: Final = 4  # its void-time passed (found by a read or by nsup)
EVICTED: Final = 5  # removed by the evictor
TRUNCATED: Final = 6  # removed by a truncate (key None: a truncate began, whole or of a set)
COPIED: Final = 7  # a replica or migrated copy replaced it
DROPPED: Final = 8  # its partition left this node
# on_change(key, what): key None means every key of the namespace.
ChangeListener = Callable[["bytes | None", int], None]


class Namespace:
    def __init__(
        self,
        config: NamespaceConfig,
        storage: Storage | None = None,
        clock: Clock | None = None,
        namespaces: dict[bytes, Any] | None = None,
    ):
        self.name = config.name
        self.bname = config.name.encode()
        self.config = config
        self.storage: Storage = storage if storage is not None else MemoryStorage()
        self.persistent = not isinstance(self.storage, MemoryStorage)
        self.clock = clock if clock is not None else Clock()
        self.namespaces = namespaces if namespaces is not None else {self.bname: self}
        self.stats = Counters()
        self.used_bytes = 0
        self.set_objects: dict[bytes, int] = {}
        self.cutoffs: dict[bytes | None, int] = {}  # truncate points: set (None = all) -> lut
        self.on_write: WriteHook | None = None
        self.on_change: ChangeListener | None = None  # None unless someone listens
        # Durable deletes (kept while clustered, so a stale copy elsewhere cannot bring a
        # deleted record back during migrations): partition -> key -> (generation, lut).
        self.keep_tombstones = False
        self.tombstones: dict[int, dict[bytes, tuple[int, int]]] = {}
        self.last_lut = 0
        self.stop_writes = False
        self.stop_reason = ""
        self.apply_settings()
        self.storage.attach(self)  # device storage: space state, set ids, restart accounting

    # --- settings ----------------------------------------------------------------------

    def apply_settings(self) -> None:
        """Cache the settings the hot path reads; called again after CONFIG SET."""
        v = self.config.values
        self.max_record_size = v["max-record-size"]
        self.default_ttl_ms = v["default-ttl"] * 1000
        self.max_ttl_ms = v["max-ttl"] * 1000
        self.ttl_allowed = bool(v["nsup-period"]) or v["allow-ttl-without-nsup"]
        size = v["memory-size"]
        stop_pct, evict_pct = v["stop-writes-used-pct"], v["evict-used-pct"]
        self.stop_bytes = size * stop_pct // 100 if stop_pct else float("inf")
        self.evict_bytes = size * evict_pct // 100 if evict_pct else float("inf")
        if self.persistent:
            # Device namespaces: the pct limits refer to the device; the storage sets
            # stop_writes (and stop_bytes = -1 so that write() calls check()).
            self.stop_bytes = -1 if self.stop_writes else float("inf")
            self.evict_bytes = float("inf")
        self.max_bin_name = v["max-bin-name-length"] or 1 << 62

    # --- reads -------------------------------------------------------------------------

    def get(self, key: bytes) -> Record | None:
        """The live record, or None if absent, expired (reclaimed now) or truncated."""
        return self._live(key, self.storage.get(key))

    def _live(self, key: bytes, rec: Record | None) -> Record | None:
        """`rec` (as stored for `key`, value decoded or not) unless it expired or was
        truncated, in which case it is reclaimed now."""
        if rec is None:
            return None
        if rec.void and rec.void <= self.clock.ms:
            self._remove(key, rec)
            self.stats.expired_objects += 1
            if self.on_change is not None:
                self.on_change(key, EXPIRED)
            return None
        if self.cutoffs and self._truncated(key, rec):
            self._remove(key, rec)
            self.stats.truncated_objects += 1
            if self.on_change is not None:
                self.on_change(key, TRUNCATED)
            return None
        return rec

    def read(self, key: bytes) -> Record | None:
        """`get` for client reads: counts success / not-found."""
        rec = self.storage.get(key)
        if rec is not None and (rec.void or self.cutoffs):
            rec = self._live(key, rec)
        if rec is None:
            self.stats.client_read_not_found += 1
        else:
            self.stats.client_read_success += 1
        return rec

    # --- writes ------------------------------------------------------------------------

    def check(self, rec: Record | None, key: bytes, value_size: int) -> int:
        """Refuse a write before anything changes; returns the new record size."""
        size = value_size + len(key) + RECORD_OVERHEAD
        if size > self.max_record_size:
            self.stats.fail_record_too_big += 1
            self.stats.client_write_error += 1
            raise RecordError(
                ResultCode.RECORD_TOO_BIG,
                f"record of {size} bytes exceeds max-record-size {self.max_record_size}",
            )
        self._check_space()
        return size

    def _check_space(self) -> None:
        if self.stop_writes:
            self.stats.client_write_error += 1
            raise RecordError(ResultCode.OUT_OF_SPACE, self.stop_reason)
        if self.used_bytes >= self.stop_bytes:
            self.stats.client_write_error += 1
            raise RecordError(
                ResultCode.OUT_OF_SPACE,
                f"namespace {self.name} is at stop-writes (memory used over stop-writes-used-pct)",
            )

    def get_for_change(self, key: bytes) -> Record | None:
        """`get` for a command that changes the record's value in place (pops, removes):
        at stop-writes it is refused here, before anything changes, as every write is."""
        rec = self.get(key)
        if rec is not None and (self.stop_writes or self.used_bytes >= self.stop_bytes):
            self._check_space()
        return rec

    def write(
        self,
        key: bytes,
        rec: Record | None,
        kind: int,
        value: object,
        value_size: int,
        void: int = KEEP,
    ) -> Record:
        """Commit a new value for `key` (rec = its current record or None)."""
        size = value_size + len(key) + RECORD_OVERHEAD
        used = self.used_bytes
        if size > self.max_record_size or used >= self.stop_bytes:
            self.check(rec, key, value_size)  # raises the coded error
        # Last-update-time never decreases on a node (several writes may share a ms).
        lut = self.clock.ms
        if lut < self.last_lut:
            lut = self.last_lut
        else:
            self.last_lut = lut
        if void < 0 and (rec is None or void == DEFAULT):
            void = lut + self.default_ttl_ms if self.default_ttl_ms else 0
        created = rec is None
        if rec is None:
            gen = 1
            if self.tombstones:
                tomb = self.tombstones.get(partition_of(key), {}).pop(key, None)
                if tomb is not None:  # a deleted record's generation carries on
                    gen = tomb[0] + 1 if tomb[0] < MAX_GENERATION else 1
                    lut = max(lut, tomb[1] + 1)
            rec = Record(kind, value, gen, void, lut, size)
            self.storage.put(key, partition_of(key), rec, True)
            self.used_bytes = used + size
            self._count_set(key, 1)
        else:
            rec.kind = kind
            rec.value = value
            gen = rec.gen
            rec.gen = gen + 1 if gen < MAX_GENERATION else 1
            rec.lut = lut if lut > rec.lut else rec.lut + 1
            if void >= 0:
                rec.void = void
            self.used_bytes = used + size - rec.size
            rec.size = size
            if self.persistent:
                self.storage.put(key, -1, rec, False)  # the storage finds it itself
        self.stats.client_write_success += 1
        if self.on_write is not None:
            self.on_write(key, rec)
        if self.on_change is not None:
            self.on_change(key, CREATED if created else WRITTEN)
        return rec

    # --- one-bin operations: the hot Redis writes, here so that they run compiled --------

    def add_int(self, key: bytes, delta: int) -> int | None:
        """Aerospike's integer add on a string record (INCR and friends); a missing record
        starts at `delta`. None, with nothing changed, when the record is no integer
        string or the sum leaves int64: the caller's general path says which."""
        rec = self.get(key)
        if rec is None:
            self.write(key, None, STRING, delta, 8)
            return delta
        value = rec.value
        if rec.kind != STRING or type(value) is not int:
            return None
        new: int = value + delta
        if new > INT64_MAX or new < INT64_MIN:
            return None
        self.write(key, rec, STRING, new, 8)
        return new

    def put_field(self, key: bytes, name: bytes, raw: bytes) -> int:
        """One field written into an existing hash (HSET's common case): 1 if the field is
        new, 0 if it replaced one; -1, with nothing changed, when the key holds no hash or
        a limit applies (the caller's general path checks and reports)."""
        rec = self.get(key)
        if rec is None or rec.kind != HASH:
            return -1
        value = to_bin(raw)
        size = rec.size + (len(raw) if type(value) is bytes else 8)
        fields: dict[bytes, object] = rec.value  # type: ignore[assignment]
        old = fields.get(name)
        if old is None:
            if len(name) > self.max_bin_name:
                return -1
            size += len(name)
        else:
            size -= value_size(old)
        if size > self.max_record_size or self.used_bytes >= self.stop_bytes:
            return -1
        fields[name] = value
        self.write(key, rec, HASH, fields, size - len(key) - RECORD_OVERHEAD)
        return 1 if old is None else 0

    def replace(
        self, key: bytes, kind: int, value: object, value_size: int, void: int = DEFAULT
    ) -> Record:
        """Write `key` whatever it held before (Aerospike's REPLACE): SET's hot path."""
        rec = self.storage.get_meta(key)
        if rec is not None and (rec.void or self.cutoffs):
            rec = self._live(key, rec)
        return self.write(key, rec, kind, value, value_size, void)

    def touch(self, key: bytes, rec: Record, void: int) -> Record:
        """A metadata-only write (EXPIRE, PERSIST, TOUCH): new void-time, generation bump."""
        return self.write(key, rec, rec.kind, rec.value, value_size_of(key, rec), void)

    def delete(self, key: bytes, rec: Record | None = None) -> bool:
        """Client delete; True if a live record was removed."""
        if rec is None:
            rec = self.get(key)
        if rec is None:
            self.stats.client_delete_not_found += 1
            return False
        self._remove(key, rec)
        self.stats.client_delete_success += 1
        if self.keep_tombstones:
            lut = max(self.clock.ms, self.last_lut, rec.lut + 1)
            gen = rec.gen + 1 if rec.gen < MAX_GENERATION else 1
            self.tombstones.setdefault(partition_of(key), {})[key] = (gen, lut)
        if self.on_write is not None:
            self.on_write(key, None)
        if self.on_change is not None:
            self.on_change(key, DELETED)
        return True

    # --- copies from other nodes (replication, migration) --------------------------------

    def tombstone(self, key: bytes, pid: int) -> tuple[int, int] | None:
        """(generation, last-update-time) of a durable delete of `key`, if one is kept."""
        part = self.tombstones.get(pid)
        return None if part is None else part.get(key)

    def apply_copy(
        self,
        key: bytes,
        pid: int,
        kind: int,
        value: object,
        gen: int,
        void: int,
        lut: int,
        tombstone: bool,
    ) -> None:
        """Make `key` exactly this copy (the cluster decided it wins). No limits apply and
        the write hook is not called: a replica or migrated copy is not a client write."""
        rec = self.storage.get(key)
        if self.on_change is not None:
            self.on_change(key, COPIED)
        if tombstone:
            if rec is not None:
                self._remove(key, rec)
            self.tombstones.setdefault(pid, {})[key] = (gen, lut)
            return
        part = self.tombstones.get(pid)
        if part:
            part.pop(key, None)
        size = value_size(value) + len(key) + RECORD_OVERHEAD
        self.last_lut = max(self.last_lut, lut)
        if rec is None:
            rec = Record(kind, value, gen, void, lut, size)
            self.storage.put(key, pid, rec, True)
            self.used_bytes += size
            self._count_set(key, 1)
            return
        self.used_bytes += size - rec.size
        rec.kind, rec.value, rec.gen, rec.void, rec.lut, rec.size = (
            kind,
            value,
            gen,
            void,
            lut,
            size,
        )
        if self.persistent:
            self.storage.put(key, pid, rec, False)

    def drop_partition(self, pid: int) -> int:
        """Forget a partition this node no longer holds; returns the records dropped."""
        keys = self.storage.partition_keys(pid)
        for key in keys:
            rec = self.storage.get(key)
            if rec is not None:
                self._remove(key, rec)
                if self.on_change is not None:
                    self.on_change(key, DROPPED)
        self.tombstones.pop(pid, None)
        return len(keys)

    def drop_old_tombstones(self, older_than: int) -> int:
        """The tomb raider: forget durable deletes last updated before `older_than` (ms)."""
        dropped = 0
        for pid in list(self.tombstones):
            part = self.tombstones[pid]
            for key in [k for k, (_, lut) in part.items() if lut < older_than]:
                del part[key]
                dropped += 1
            if not part:
                del self.tombstones[pid]
        return dropped

    def _remove(self, key: bytes, rec: Record) -> None:
        self.storage.delete(key, partition_of(key), rec)
        self.used_bytes -= rec.size
        self._count_set(key, -1)

    def _count_set(self, key: bytes, delta: int) -> None:
        setname = split_key(key, self.namespaces)[1]
        if setname:
            left = self.set_objects.get(setname, 0) + delta
            if left:
                self.set_objects[setname] = left
            else:
                self.set_objects.pop(setname, None)

    # --- TTL ---------------------------------------------------------------------------

    def void_from_ttl_ms(self, ttl_ms: int, now: int | None = None) -> int:
        """Absolute void-time for a relative TTL, enforcing max-ttl and the nsup rule."""
        if ttl_ms > self.max_ttl_ms:
            raise RecordError(ResultCode.PARAMETER, f"TTL exceeds max-ttl of namespace {self.name}")
        if not self.ttl_allowed:
            raise RecordError(
                ResultCode.FORBIDDEN,
                f"TTL given but nsup-period is 0 in namespace {self.name} (set allow-ttl-without-nsup)",
            )
        return (self.clock() if now is None else now) + ttl_ms

    # --- truncate ----------------------------------------------------------------------

    def truncate(self, setname: bytes | None = None, before: int | None = None) -> int:
        """Delete every record (of a set) last updated at or before `before` (default now).

        Returns the cutoff. Memory namespaces drop the records at once; device namespaces
        keep the cutoff (records are hidden at once and removed by `sweep`), since old
        copies on the device must stay dead across restarts.
        """
        cutoff = before if before is not None else max(self.clock(), self.last_lut)
        # Records written from now on must be newer than the cutoff.
        self.last_lut = max(self.last_lut, cutoff + 1)
        name = setname or None
        if self.on_change is not None:  # (then each record of a set, where known now)
            self.on_change(None, TRUNCATED)
        if self.persistent:
            self.cutoffs[name] = max(cutoff, self.cutoffs.get(name, 0))
            self.storage.truncated(name, cutoff)
            if name is None and before is None:
                # Every record is older than the cutoff: all dead at once, no I/O.
                self.stats.truncated_objects += self.storage.count()
                self.storage.clear()
                self.used_bytes = 0
                self.set_objects.clear()
            return cutoff
        if name is None and before is None:
            self.stats.truncated_objects += self.storage.count()
            self.storage.clear()
            self.used_bytes = 0
            self.set_objects.clear()
            return cutoff
        for key in list(self.storage.keys()):
            rec = self.storage.get(key)
            if rec is None or rec.lut > cutoff:
                continue
            if name is None or split_key(key, self.namespaces)[1] == name:
                self._remove(key, rec)
                self.stats.truncated_objects += 1
                if self.on_change is not None:
                    self.on_change(key, TRUNCATED)
        return cutoff

    def _truncated(self, key: bytes, rec: Record) -> bool:
        cutoff = self.cutoffs.get(None)
        if cutoff is not None and rec.lut <= cutoff:
            return True
        setname = split_key(key, self.namespaces)[1]
        cutoff = self.cutoffs.get(setname) if setname else None
        return cutoff is not None and rec.lut <= cutoff

    # --- background work (called in slices by the node) --------------------------------

    def sweep(self, now: int, evict_before: int = 0) -> Iterator[int]:
        """One nsup round: remove expired, truncated and (void < evict_before) records.

        Yields after every partition so the event loop keeps serving; the value yielded is
        the number of records removed so far.
        """
        removed = 0
        cutoffs = dict(self.cutoffs)
        for pid in range(N_PARTITIONS):
            for key, rec in self.storage.sweep_candidates(pid, now, evict_before, cutoffs):
                if rec.void and rec.void <= now:
                    self.stats.expired_objects += 1
                    what = EXPIRED
                elif cutoffs and self._truncated(key, rec):
                    self.stats.truncated_objects += 1
                    what = TRUNCATED
                elif rec.void and rec.void < evict_before:
                    self.stats.evicted_objects += 1
                    what = EVICTED
                else:
                    continue
                self._remove(key, rec)
                removed += 1
                if self.on_change is not None:
                    self.on_change(key, what)
            yield removed
        # Purged everything older than the cutoffs taken at the start of the round.
        for name, cutoff in cutoffs.items():
            if self.cutoffs.get(name) == cutoff:
                del self.cutoffs[name]  # device: the storage keeps its own (lmdb)

    def eviction_cutoff(self) -> int:
        """Void-time below which records go, so that ~evict-tenths-pct of them are evicted."""
        return self.storage.eviction_cutoff(self.config["evict-tenths-pct"])

    # --- iteration ---------------------------------------------------------------------

    def count(self) -> int:
        return self.storage.count()

    def scan(
        self,
        cursor: int,
        count: int,
        accept: Callable[[bytes, Record], bool] | None = None,
        owned: Callable[[int], bool] | None = None,
    ) -> tuple[int, list[bytes]]:
        """One SCAN step. The cursor is partition + 4096 * (crc32 to resume from), so keys
        present for the whole scan are returned exactly once however the data changes.
        `owned` limits the walk to some partitions (in a cluster: those mastered here)."""
        pid, start = cursor & 0xFFF, cursor >> 12
        found: list[bytes] = []
        while pid < N_PARTITIONS:
            if owned is not None and not owned(pid):
                pid, start = pid + 1, 0
                continue
            entries = sorted(
                (h, k) for k in self.storage.partition_keys(pid) if (h := crc32(k)) >= start
            )
            for i, (h, key) in enumerate(entries):
                if len(found) >= count and h != entries[i - 1][0]:
                    return pid | (h << 12), found
                rec = self.get(key)
                if rec is not None and (accept is None or accept(key, rec)):
                    found.append(key)
            pid, start = pid + 1, 0
            if len(found) >= count:
                break
        return (pid if pid < N_PARTITIONS else 0), found

    def random_key(self) -> bytes | None:
        total = self.storage.count()
        for _ in range(64):
            if not total:
                return None
            pid = random.randrange(N_PARTITIONS)
            keys = self.storage.partition_keys(pid)
            if keys:
                key = random.choice(keys)
                if self.get(key) is not None:
                    return key
            total = self.storage.count()
        for key in self.storage.keys():
            if self.get(key) is not None:
                return key
        return None


class Router:
    """Which namespace a key is in: `ns:...` selects a configured namespace, any other key
    is in the default one. Every command asks, so it lives here, compiled."""

    def __init__(self, namespaces: dict[bytes, Namespace], default: Namespace):
        self.namespaces = namespaces
        self.default = default
        self.longest = max(len(n) for n in namespaces)
        self.initials = frozenset(n[:1] for n in namespaces)

    def route(self, key: bytes) -> Namespace:
        if key[:1] not in self.initials:
            return self.default
        i = key.find(b":", 0, self.longest + 1)
        if i > 0:
            ns = self.namespaces.get(key[:i])
            if ns is not None:
                return ns
        return self.default
