"""What the cluster core tells the code around it (drained with `ClusterNode.take_events`).

Events are plain values: the integration layer turns them into completed client replies,
log lines or metrics; the simulator turns them into its history of acknowledged writes.
"""

from __future__ import annotations

from dataclasses import dataclass

from .clustering import View


@dataclass(frozen=True, slots=True)
class ViewChanged:
    """The node adopted a new cluster view (None = it is an orphan now)."""

    old: View | None
    new: View | None


@dataclass(frozen=True, slots=True)
class Rebalanced:
    """The partition exchange for `view` finished; routing answers from the new plan now."""

    view: View
    masters: int  # partitions this node is working master of (all namespaces)
    migrations: int  # migrations this node takes part in for this view


@dataclass(frozen=True, slots=True)
class WriteDone:
    """A replicated write finished. `ok` False: the reply must be an error.

    `code` is an Aerospike result code (0 OK, 9 TIMEOUT, 7 CLUSTER_KEY_MISMATCH, ...). A
    failed write was applied on the master but not confirmed by every replica: its outcome
    is unknown (it may survive or be lost), never a silent success.
    """

    txn: int
    ok: bool
    code: int
    message: str


@dataclass(frozen=True, slots=True)
class DupResDone:
    """Duplicate resolution before a read or write finished.

    On success the best copy among the duplicates is already in the local store and the
    command may run now. On failure nothing was changed: the command must fail (retryable).
    """

    txn: int
    ok: bool
    code: int
    message: str


@dataclass(frozen=True, slots=True)
class ProxyRequested:
    """Another node forwarded a client command here; answer with `ClusterNode.proxy_reply`."""

    src: int
    txn: int
    ns: str
    pid: int
    resp_proto: int
    args: tuple[bytes, ...]


@dataclass(frozen=True, slots=True)
class ProxyDone:
    """The answer to a command this node forwarded (or a timeout: code 9, empty reply)."""

    txn: int
    code: int
    reply: bytes


@dataclass(frozen=True, slots=True)
class PeerRefused:
    """A peer speaks another cluster protocol version (or sent garbage); it is ignored."""

    node: int
    reason: str


@dataclass(frozen=True, slots=True)
class PublishReceived:
    """A peer relayed a PUBLISH: deliver it to this node's subscribers, answer the count
    (`ClusterNode.publish_count`)."""

    src: int
    txn: int
    channel: bytes
    payload: bytes


@dataclass(frozen=True, slots=True)
class PublishDone:
    """Every peer answered a relayed PUBLISH, or its time ran out: the cluster-wide count
    of receivers (a peer that did not answer in time counts 0)."""

    txn: int
    receivers: int


Event = (
    ViewChanged
    | Rebalanced
    | WriteDone
    | DupResDone
    | ProxyRequested
    | ProxyDone
    | PeerRefused
    | PublishReceived
    | PublishDone
)
