"""Requests a node sent and still waits on: transaction ids, deadlines, re-sends, outcomes.

Replication, duplicate resolution and proxying all send a request, keep it until every
peer answered or its deadline passed, and report one outcome per transaction; this is that
shared bookkeeping. Proxied commands are never re-sent (a command may not be idempotent);
replica writes and duplicate-resolution requests are (`Resent`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Generic, Protocol, TypeVar

from .messages import Message, Send


class Timed(Protocol):
    txn: int
    deadline: int


class Retried(Timed, Protocol):
    waiting: set[int]  # peers that have not answered yet
    next_send: int


P = TypeVar("P", bound=Timed)
R = TypeVar("R", bound=Retried)
D = TypeVar("D")  # the outcome reported by take_done


class Outstanding(ABC, Generic[P, D]):
    def __init__(self, timeout_ms: int):
        self.timeout_ms = timeout_ms
        self.next_txn = 1
        self.pending: dict[int, P] = {}
        self.done: list[D] = []

    def new_txn(self) -> int:
        txn = self.next_txn
        self.next_txn += 1
        return txn

    def tick(self, now: int) -> list[Send]:
        """Expire what is overdue; returns what is to be re-sent."""
        sends: list[Send] = []
        for p in list(self.pending.values()):
            if now >= p.deadline:
                self.expire(p)
            else:
                self.resend(p, now, sends)
        return sends

    def resend(self, p: P, now: int, sends: list[Send]) -> None:
        """Never, unless a subclass re-sends."""

    def take_done(self) -> list[D]:
        done, self.done = self.done, []
        return done

    @abstractmethod
    def expire(self, p: P) -> None:
        """The deadline passed: report the outcome and forget `p`."""


class Resent(Outstanding[R, D]):
    """Requests re-sent every `resend_ms` to the peers that have not answered yet."""

    def __init__(self, timeout_ms: int, resend_ms: int):
        super().__init__(timeout_ms)
        self.resend_ms = resend_ms

    def resend(self, p: R, now: int, sends: list[Send]) -> None:
        if now >= p.next_send:
            p.next_send = now + self.resend_ms
            msg = self.request(p)
            sends.extend(Send(n, msg) for n in sorted(p.waiting))

    def open(self, p: R, peers: tuple[int, ...]) -> list[Send]:
        """Keep `p` until answered or expired; returns the first sending of its request."""
        self.pending[p.txn] = p
        msg = self.request(p)
        return [Send(n, msg) for n in peers]

    def fail_all(self, code: int, message: str) -> None:
        for p in list(self.pending.values()):
            self.fail(p, code, message)

    @abstractmethod
    def request(self, p: R) -> Message:
        """The message that asks the peers (sent again on every re-send)."""

    @abstractmethod
    def fail(self, p: R, code: int, message: str) -> None:
        """Give up on `p` (view change): report `code` and forget it."""
