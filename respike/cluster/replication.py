"""Replication of writes from the working master to the partition's replicas.

The master applies a write locally first (the engine does), then `start` sends the new copy
of the record to every other replica of the partition in the current view. With
commit-level all the write completes when every replica acknowledged; with commit-level
master it completes at once and the copies are still sent. Unacknowledged copies are
re-sent every `resend_ms` until `timeout_ms`, so a lost message costs latency, not
durability. Replicas store the copy with replace-if-better (records.py), so re-sends and
reordering are harmless.

A write that cannot be confirmed completes with an error, never a silent success:
TIMEOUT when a replica did not answer within the transaction timeout, and
CLUSTER_KEY_MISMATCH when a replica is in another view or the view changed meanwhile. In
both cases the master has applied the write, so its outcome is unknown to the client (the
copy may survive on the master or be superseded when copies are reconciled).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import ResultCode
from .events import WriteDone
from .messages import ReplicaAck, ReplicaWrite, Send, Status
from .outstanding import Resent
from .records import RecordCopy


@dataclass(slots=True)
class PendingWrite:
    txn: int
    cluster_key: int
    ns: str
    pid: int
    key: bytes
    copy: RecordCopy
    waiting: set[int]
    deadline: int
    next_send: int
    reported: bool  # the client already has its answer (commit-level master)
    acked: set[int] = field(default_factory=set)


class Replication(Resent[PendingWrite, WriteDone]):
    def __init__(self, timeout_ms: int, resend_ms: int, ack_before_replicas: bool = False):
        super().__init__(timeout_ms, resend_ms)
        self.ack_before_replicas = ack_before_replicas
        self.writes_replicated = 0
        self.write_timeouts = 0
        # (ns, pid) of writes that were applied here but not confirmed by every replica
        self.diverged: list[tuple[str, int]] = []

    def start(
        self,
        cluster_key: int,
        ns: str,
        pid: int,
        key: bytes,
        copy: RecordCopy,
        replicas: tuple[int, ...],
        wait_all: bool,
        now: int,
    ) -> tuple[int, list[Send]]:
        """Replicate an applied write; returns its txn id and the copies to send."""
        txn = self.new_txn()
        report_now = not wait_all or not replicas or self.ack_before_replicas
        if report_now:
            self.done.append(WriteDone(txn, True, ResultCode.OK, ""))
        if not replicas:
            return txn, []
        w = PendingWrite(
            txn,
            cluster_key,
            ns,
            pid,
            key,
            copy,
            set(replicas),
            now + self.timeout_ms,
            now + self.resend_ms,
            report_now,
        )
        return txn, self.open(w, replicas)

    def on_ack(self, src: int, msg: ReplicaAck) -> None:
        w = self.pending.get(msg.txn)
        if w is None or msg.cluster_key != w.cluster_key or src not in w.waiting:
            return
        if msg.status == Status.OK:
            w.waiting.discard(src)
            w.acked.add(src)
            if not w.waiting:
                del self.pending[msg.txn]
                self.writes_replicated += 1
                if not w.reported:
                    self.done.append(WriteDone(w.txn, True, ResultCode.OK, ""))
        elif msg.status == Status.NOT_READY:
            return  # the replica is still finishing the exchange; the re-send will do
        else:
            self.fail(
                w,
                ResultCode.CLUSTER_KEY_MISMATCH,
                f"replica {src:016x} refused the write ({Status(msg.status).name}); it was applied on "
                "the master, outcome unknown",
            )

    def request(self, w: PendingWrite) -> ReplicaWrite:
        return ReplicaWrite(w.cluster_key, w.txn, w.ns, w.pid, w.key, w.copy)

    def expire(self, w: PendingWrite) -> None:
        self.write_timeouts += 1
        missing = ",".join(f"{n:016x}" for n in sorted(w.waiting))
        self.fail(
            w,
            ResultCode.TIMEOUT,
            f"replica(s) {missing} did not acknowledge within the transaction timeout; "
            "the write was applied on the master, outcome unknown",
        )

    def fail(self, w: PendingWrite, code: int, message: str) -> None:
        self.pending.pop(w.txn, None)
        self.diverged.append((w.ns, w.pid))
        if not w.reported:
            self.done.append(WriteDone(w.txn, False, code, message))
