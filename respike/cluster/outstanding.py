"""Requests a node sent and still waits on: transaction ids, deadlines, re-sends, outcomes.

Replication, duplicate resolution and proxying all send a request, keep it until every
peer answered or its deadline passed, and report one outcome per transaction; this is that
shared bookkeeping. A subclass says what to re-send and what an expiry or failure reports.
"""

from __future__ import annotations

from typing import Any, Generic, Protocol, TypeVar

from .messages import Message, Send


class Timed(Protocol):
    """A pending entry; re-sent ones also have `waiting` (peer ids) and `next_send`."""

    txn: int
    deadline: int


P = TypeVar("P", bound=Timed)
D = TypeVar("D")  # the outcome reported by take_done


class Outstanding(Generic[P, D]):
    def __init__(self, timeout_ms: int, resend_ms: int = 0):
        self.timeout_ms = timeout_ms
        self.resend_ms = resend_ms  # 0: never re-sent (the request is not idempotent)
        self.next_txn = 1
        self.pending: dict[int, P] = {}
        self.done: list[D] = []

    def new_txn(self) -> int:
        txn = self.next_txn
        self.next_txn += 1
        return txn

    def tick(self, now: int) -> list[Send]:
        """Expire what is overdue; re-send to the peers that have not answered yet."""
        sends: list[Send] = []
        for p in list(self.pending.values()):
            if now >= p.deadline:
                self.expire(p)
                continue
            resent: Any = p
            if self.resend_ms and now >= resent.next_send:
                resent.next_send = now + self.resend_ms
                msg = self.request(p)
                sends.extend(Send(n, msg) for n in sorted(resent.waiting))
        return sends

    def fail_all(self, code: int, message: str) -> None:
        for p in list(self.pending.values()):
            self.fail(p, code, message)

    def take_done(self) -> list[D]:
        done, self.done = self.done, []
        return done

    def request(self, p: P) -> Message:
        raise NotImplementedError

    def expire(self, p: P) -> None:
        raise NotImplementedError

    def fail(self, p: P, code: int, message: str) -> None:
        raise NotImplementedError
