"""Proxying: a node forwards a client command to the partition's master and relays the reply.

The cluster core only carries the command (opaque Redis arguments plus the client's RESP
version) and the reply bytes, and times the request out; executing the command is the
RESP layer's job on the master (`ProxyRequested` event, answered with `proxy_reply`).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import ResultCode
from .events import ProxyDone
from .messages import ProxyRequest, ProxyResponse, Send
from .outstanding import Outstanding


@dataclass(slots=True)
class PendingProxy:
    txn: int
    dest: int
    deadline: int


class Proxies(Outstanding[PendingProxy, ProxyDone]):
    """Never re-sent: the command may not be idempotent."""

    def start(
        self, dest: int, ns: str, pid: int, resp_proto: int, args: tuple[bytes, ...], now: int
    ) -> tuple[int, Send]:
        txn = self.new_txn()
        self.pending[txn] = PendingProxy(txn, dest, now + self.timeout_ms)
        return txn, Send(dest, ProxyRequest(txn, ns, pid, resp_proto, tuple(args)))

    def on_response(self, src: int, msg: ProxyResponse) -> None:
        p = self.pending.get(msg.txn)
        if p is None or p.dest != src:
            return
        del self.pending[msg.txn]
        self.done.append(ProxyDone(msg.txn, msg.result, msg.reply))

    def expire(self, p: PendingProxy) -> None:
        del self.pending[p.txn]
        self.done.append(ProxyDone(p.txn, ResultCode.TIMEOUT, b""))
