"""The partition-version exchange that follows every view change.

Every node sends its partition versions to the principal; once the principal has them from
every node of the view it sends the whole set to every node, and each node rebalances from
that one snapshot (rebalance.py), so all nodes compute the same plan. Members re-send
their versions until the result arrives (the principal answers a re-send with the result),
which covers lost messages without any other timer. Versions do not change between the
view commit and the rebalance: migrations of the old view are stopped at the commit and
replica writes of the old view are refused, so the snapshot is exact.
"""

from __future__ import annotations

from .clustering import View
from .messages import ExchangeResult, ExchangeVersions, NsVersions, Send


class Exchange:
    def __init__(self, node_id: int, resend_ms: int):
        self.node_id = node_id
        self.resend_ms = resend_ms
        self.view: View | None = None
        self.mine: tuple[NsVersions, ...] = ()
        self.collected: dict[int, tuple[NsVersions, ...]] = {}
        self.result: ExchangeResult | None = None
        self.last_send = 0

    def reset(self) -> None:
        self.view = None
        self.collected = {}
        self.result = None

    def start(
        self, view: View, mine: tuple[NsVersions, ...], now: int
    ) -> tuple[list[Send], ExchangeResult | None]:
        """Begin the exchange for `view`; returns sends and the result if already complete."""
        self.view = view
        self.mine = mine
        self.collected = {}
        self.result = None
        self.last_send = now
        if view.principal == self.node_id:
            return self._collect(self.node_id, mine)
        return [Send(view.principal, ExchangeVersions(view.cluster_key, mine))], None

    def _collect(
        self, src: int, versions: tuple[NsVersions, ...]
    ) -> tuple[list[Send], ExchangeResult | None]:
        view = self.view
        assert view is not None
        self.collected[src] = versions
        if self.result is not None or len(self.collected) < len(view.succession):
            return [], None
        nodes = tuple((n, self.collected[n]) for n in view.succession)
        self.result = ExchangeResult(view.cluster_key, nodes)
        sends = [Send(n, self.result) for n in view.succession if n != self.node_id]
        return sends, self.result

    def on_versions(
        self, src: int, msg: ExchangeVersions
    ) -> tuple[list[Send], ExchangeResult | None]:
        """Principal side. A re-send after completion is answered with the result again."""
        view = self.view
        if view is None or view.principal != self.node_id or msg.cluster_key != view.cluster_key:
            return [], None
        if src not in view.succession:
            return [], None
        if self.result is not None:
            return [Send(src, self.result)], None
        return self._collect(src, msg.namespaces)

    def on_result(self, src: int, msg: ExchangeResult) -> ExchangeResult | None:
        """Member side: the result, the first time it arrives for the current view."""
        view = self.view
        if view is None or self.result is not None or msg.cluster_key != view.cluster_key:
            return None
        if src != view.principal or tuple(n for n, _ in msg.nodes) != view.succession:
            return None
        self.result = msg
        return msg

    def tick(self, now: int) -> list[Send]:
        view = self.view
        if view is None or self.result is not None or view.principal == self.node_id:
            return []
        if now - self.last_send < self.resend_ms:
            return []
        self.last_send = now
        return [Send(view.principal, ExchangeVersions(view.cluster_key, self.mine))]
