"""Duplicate resolution: before the working master runs a command on a record of a
partition that still has unmerged duplicates, it fetches that record from every duplicate
holder and keeps the best copy (by the conflict-resolution policy).

Duplicates exist only after a network split healed, or a node that was cut off came back
with an old copy, and only until their MERGE migrations into the master finish. Without
this step a write made in that window would be computed from the master's possibly older
copy and could then lose to the duplicate's copy when the merge arrives: an acknowledged
write lost after the cluster already looked healthy. Aerospike does the same
(`write-duplicate-resolution`, and read mode ALL for reads).

Nothing is applied to the store until every holder answered, so a failure (timeout, view
change) leaves the record untouched and the command can fail cleanly as retryable.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import ResultCode
from .messages import DupResReply, DupResRequest, Send, Status
from .outstanding import Resent
from .records import ConflictPolicy, RecordCopy, wins


@dataclass(slots=True)
class PendingDupRes:
    txn: int
    cluster_key: int
    ns: str
    pid: int
    key: bytes
    policy: ConflictPolicy
    waiting: set[int]
    deadline: int
    next_send: int
    best: RecordCopy | None = None


@dataclass(frozen=True, slots=True)
class DupResOutcome:
    txn: int
    ok: bool
    code: int
    message: str
    ns: str
    pid: int
    key: bytes
    best: RecordCopy | None


class DupResolution(Resent[PendingDupRes, DupResOutcome]):
    def start(
        self,
        cluster_key: int,
        ns: str,
        pid: int,
        key: bytes,
        holders: tuple[int, ...],
        policy: ConflictPolicy,
        now: int,
    ) -> tuple[int, list[Send]]:
        txn = self.new_txn()
        d = PendingDupRes(
            txn,
            cluster_key,
            ns,
            pid,
            key,
            policy,
            set(holders),
            now + self.timeout_ms,
            now + self.resend_ms,
        )
        return txn, self.open(d, holders)

    def on_reply(self, src: int, msg: DupResReply) -> None:
        d = self.pending.get(msg.txn)
        if d is None or msg.cluster_key != d.cluster_key or src not in d.waiting:
            return
        if msg.status == Status.NOT_READY:
            return
        if msg.status != Status.OK:
            self.fail(
                d,
                ResultCode.CLUSTER_KEY_MISMATCH,
                f"duplicate holder {src:016x} refused ({Status(msg.status).name})",
            )
            return
        d.waiting.discard(src)
        if msg.copy is not None and wins(msg.copy, d.best, d.policy):
            d.best = msg.copy
        if not d.waiting:
            self._finish(d, True, ResultCode.OK, "")

    def holder_done(self, ns: str, pid: int, holder: int) -> None:
        """`holder` finished merging into us: its answer is no longer needed."""
        for d in list(self.pending.values()):
            if d.ns == ns and d.pid == pid and holder in d.waiting:
                d.waiting.discard(holder)
                if not d.waiting:
                    self._finish(d, True, ResultCode.OK, "")

    def request(self, d: PendingDupRes) -> DupResRequest:
        return DupResRequest(d.cluster_key, d.txn, d.ns, d.pid, d.key)

    def expire(self, d: PendingDupRes) -> None:
        self.fail(d, ResultCode.TIMEOUT, "duplicate resolution timed out; nothing was applied")

    def fail(self, d: PendingDupRes, code: int, message: str) -> None:
        self._finish(d, False, code, message)

    def _finish(self, d: PendingDupRes, ok: bool, code: int, message: str) -> None:
        self.pending.pop(d.txn, None)
        self.done.append(DupResOutcome(d.txn, ok, code, message, d.ns, d.pid, d.key, d.best))
