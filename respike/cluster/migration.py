"""Partition migrations: streaming a partition's records to another node, throttled.

The rebalance (rebalance.py) says which partitions move where in the current view; this
module moves them. A migration is `Start -> StartAck`, then batches of records, each
acknowledged before the next is sent (`Batch -> BatchAck`), then `Done -> DoneAck`:

* The sender snapshots the partition's keys when the receiver accepts, and reads each
  record when its batch is built, so it sends the latest copy. Writes made meanwhile reach
  the receiver anyway: a FILL target is a replica of the partition, so the master
  replicates every write to it during the migration.
* The receiver applies every record with replace-if-better (records.py). That is what
  makes it safe for batches, replicated writes and re-sends to arrive in any order, and
  what reconciles copies by the conflict-resolution policy. (`skip_reconcile` is the
  planted bug that stores incoming copies blindly.)
* Throttles: at most `migrate_threads` partitions are sent at once by a node (0 pauses
  migrations), and a node accepts at most `migrate_max_num_incoming` at once; a busy
  receiver answers BUSY and the sender tries again a little later.
* Every unacknowledged message is re-sent after `resend_ms`; every step is idempotent.
* A view change aborts everything (`reset`); the next rebalance plans again from the
  partition versions, which record exactly what finished.

Progress counters (`tx_remaining`, `rx_remaining`, `records_sent`, `records_received`) are
what INFO and the admin tool show.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from .messages import (
    MigrateBatch,
    MigrateBatchAck,
    MigrateDone,
    MigrateDoneAck,
    MigrateStart,
    MigrateStartAck,
    MigrationKind,
    Send,
    Status,
)
from .records import ConflictPolicy, RecordCopy, RecordStore, apply_if_better

START = 0
SENDING = 1
DONE = 2


@dataclass(slots=True)
class Emigration:
    mig_id: int
    ns: str
    pid: int
    dest: int
    kind: int
    phase: int = START
    keys: list[bytes] = field(default_factory=list)
    pos: int = 0
    seq: int = 0
    batch: tuple[tuple[bytes, RecordCopy], ...] = ()
    sent_at: int = 0
    not_before: int = 0
    records_sent: int = 0


@dataclass(slots=True)
class Immigration:
    src: int
    mig_id: int
    ns: str
    pid: int
    kind: int
    next_seq: int = 0
    records: int = 0


@dataclass(frozen=True, slots=True)
class MigrationSettings:
    threads: int = 1
    max_incoming: int = 4
    batch_records: int = 100
    resend_ms: int = 200
    busy_retry_ms: int = 50
    skip_reconcile: bool = False


# (peer, ns, pid, kind) -> called when a migration finished
DoneHook = Callable[[int, str, int, int], None]


class Migrations:
    def __init__(
        self,
        store: RecordStore,
        settings: MigrationSettings,
        policy: Callable[[str], ConflictPolicy],
        incoming_done: DoneHook,
        outgoing_done: DoneHook,
    ):
        self.store = store
        self.settings = settings
        self.policy = policy
        self.incoming_done = incoming_done
        self.outgoing_done = outgoing_done
        self.cluster_key = 0
        self.next_mig_id = 1
        # Waiting to start, merges first: fills of a partition wait for its merges to finish.
        self.merges: deque[Emigration] = deque()
        self.queue: deque[Emigration] = deque()
        self.active: dict[int, Emigration] = {}
        self.expected_in: set[tuple[int, str, int, int]] = set()
        self.incoming: dict[tuple[int, int], Immigration] = {}
        self.finished_in: set[tuple[int, int]] = set()
        self.records_sent = 0
        self.records_received = 0
        self.partitions_sent = 0
        self.partitions_received = 0

    # --- planning -----------------------------------------------------------------------

    def reset(self, cluster_key: int) -> None:
        """Abort every migration (view change); `cluster_key` tags the new view's messages."""
        self.cluster_key = cluster_key
        self.queue.clear()
        self.merges.clear()
        self.active.clear()
        self.expected_in.clear()
        self.incoming.clear()
        self.finished_in.clear()

    def emigrate(self, ns: str, pid: int, dest: int, kind: int) -> None:
        mig = Emigration(self.next_mig_id, ns, pid, dest, kind)
        self.next_mig_id += 1
        self._enqueue(mig)

    def _enqueue(self, mig: Emigration) -> None:
        (self.merges if mig.kind == MigrationKind.MERGE else self.queue).append(mig)

    def expect(self, src: int, ns: str, pid: int, kind: int) -> None:
        self.expected_in.add((src, ns, pid, kind))

    @property
    def tx_remaining(self) -> int:
        return len(self.merges) + len(self.queue) + len(self.active)

    @property
    def rx_remaining(self) -> int:
        return len(self.expected_in)

    @property
    def pending(self) -> int:
        return self.tx_remaining + self.rx_remaining

    def set_settings(self, settings: MigrationSettings) -> None:
        self.settings = settings

    # --- sender -------------------------------------------------------------------------

    def tick(self, now: int) -> list[Send]:
        sends: list[Send] = []
        resend = self.settings.resend_ms
        for mig in self.active.values():
            if now - mig.sent_at >= resend:
                mig.sent_at = now
                sends.append(Send(mig.dest, self._current(mig)))
        for queue in (self.merges, self.queue):
            # Not-yet-due entries (retries) rotate to the back; each is looked at once.
            for _ in range(len(queue)):
                if len(self.active) >= self.settings.threads:
                    return sends
                mig = queue.popleft()
                if mig.not_before > now:
                    queue.append(mig)
                    continue
                mig.phase = START
                mig.sent_at = now
                self.active[mig.mig_id] = mig
                sends.append(Send(mig.dest, self._current(mig)))
        return sends

    def _current(self, mig: Emigration):
        if mig.phase == START:
            count = self.store.partition_count(mig.ns, mig.pid)
            return MigrateStart(self.cluster_key, mig.mig_id, mig.ns, mig.pid, mig.kind, count)
        if mig.phase == SENDING:
            return MigrateBatch(self.cluster_key, mig.mig_id, mig.seq, mig.batch)
        return MigrateDone(self.cluster_key, mig.mig_id, mig.records_sent)

    def _advance(self, mig: Emigration, now: int) -> Send:
        """Build the next batch, or Done when every key was sent."""
        store = self.store
        batch: list[tuple[bytes, RecordCopy]] = []
        while mig.pos < len(mig.keys) and len(batch) < self.settings.batch_records:
            key = mig.keys[mig.pos]
            mig.pos += 1
            copy = store.get_copy(mig.ns, mig.pid, key)
            if copy is not None:
                batch.append((key, copy))
        if batch:
            mig.phase = SENDING
            mig.seq += 1
            mig.batch = tuple(batch)
            mig.records_sent += len(batch)
            self.records_sent += len(batch)
        else:
            mig.phase = DONE
            mig.batch = ()
        mig.sent_at = now
        return Send(mig.dest, self._current(mig))

    def on_start_ack(self, src: int, msg: MigrateStartAck, now: int) -> list[Send]:
        mig = self.active.get(msg.mig_id)
        if (
            mig is None
            or mig.dest != src
            or msg.cluster_key != self.cluster_key
            or mig.phase != START
        ):
            return []
        if msg.status == Status.OK:
            mig.keys = self.store.partition_keys(mig.ns, mig.pid)
            return [self._advance(mig, now)]
        # BUSY / NOT_READY: try again later; anything else is a plan disagreement that the
        # next view change will resolve, so also retry (cheaply) rather than give up.
        del self.active[mig.mig_id]
        mig.not_before = now + self.settings.busy_retry_ms * (1 if msg.status == Status.BUSY else 4)
        self._enqueue(mig)
        return []

    def on_batch_ack(self, src: int, msg: MigrateBatchAck, now: int) -> list[Send]:
        mig = self.active.get(msg.mig_id)
        if mig is None or mig.dest != src or msg.cluster_key != self.cluster_key:
            return []
        if mig.phase != SENDING or msg.seq != mig.seq:
            return []
        if msg.status != Status.OK:
            return self._restart(mig, now)
        return [self._advance(mig, now)]

    def on_done_ack(self, src: int, msg: MigrateDoneAck, now: int) -> list[Send]:
        mig = self.active.get(msg.mig_id)
        if (
            mig is None
            or mig.dest != src
            or msg.cluster_key != self.cluster_key
            or mig.phase != DONE
        ):
            return []
        if msg.status != Status.OK:
            return self._restart(mig, now)
        del self.active[mig.mig_id]
        self.partitions_sent += 1
        self.outgoing_done(mig.dest, mig.ns, mig.pid, mig.kind)
        return []

    def _restart(self, mig: Emigration, now: int) -> list[Send]:
        """The receiver lost track of the migration: start it over (idempotent)."""
        del self.active[mig.mig_id]
        fresh = Emigration(
            self.next_mig_id,
            mig.ns,
            mig.pid,
            mig.dest,
            mig.kind,
            not_before=now + self.settings.busy_retry_ms,
        )
        self.next_mig_id += 1
        self._enqueue(fresh)
        return []

    # --- receiver -----------------------------------------------------------------------

    def on_start(self, src: int, msg: MigrateStart, ready: bool) -> list[Send]:
        def ack(status: int) -> list[Send]:
            return [Send(src, MigrateStartAck(msg.cluster_key, msg.mig_id, status))]

        if msg.cluster_key != self.cluster_key:
            return ack(Status.WRONG_VIEW)
        if not ready:
            return ack(Status.NOT_READY)
        ident = (src, msg.mig_id)
        if ident in self.incoming:
            return ack(Status.OK)
        if (src, msg.ns, msg.pid, msg.kind) not in self.expected_in:
            return ack(Status.REJECTED)
        if len(self.incoming) >= self.settings.max_incoming:
            return ack(Status.BUSY)
        self.incoming[ident] = Immigration(src, msg.mig_id, msg.ns, msg.pid, msg.kind)
        return ack(Status.OK)

    def on_batch(self, src: int, msg: MigrateBatch) -> list[Send]:
        def ack(status: int) -> list[Send]:
            return [Send(src, MigrateBatchAck(msg.cluster_key, msg.mig_id, msg.seq, status))]

        if msg.cluster_key != self.cluster_key:
            return ack(Status.WRONG_VIEW)
        im = self.incoming.get((src, msg.mig_id))
        if im is None:
            return ack(Status.UNKNOWN)
        if msg.seq == im.next_seq + 1:
            policy = self.policy(im.ns)
            blind = self.settings.skip_reconcile
            store = self.store
            for key, copy in msg.records:
                apply_if_better(store, im.ns, im.pid, key, copy, policy, blind)
            im.next_seq = msg.seq
            im.records += len(msg.records)
            self.records_received += len(msg.records)
        elif msg.seq > im.next_seq + 1:
            return []  # cannot happen with one batch in flight; ignore rather than skip one
        return ack(Status.OK)

    def on_done(self, src: int, msg: MigrateDone) -> list[Send]:
        def ack(status: int) -> list[Send]:
            return [Send(src, MigrateDoneAck(msg.cluster_key, msg.mig_id, status))]

        if msg.cluster_key != self.cluster_key:
            return ack(Status.WRONG_VIEW)
        ident = (src, msg.mig_id)
        if ident in self.finished_in:
            return ack(Status.OK)
        im = self.incoming.pop(ident, None)
        if im is None:
            return ack(Status.UNKNOWN)
        self.finished_in.add(ident)
        self.partitions_received += 1
        self.expected_in.discard((src, im.ns, im.pid, im.kind))
        self.incoming_done(src, im.ns, im.pid, im.kind)
        return ack(Status.OK)
