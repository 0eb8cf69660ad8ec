"""Every node-to-node message, defined once, with its wire encoding.

A message is a frozen dataclass with a fixed numeric tag. On the wire it is one msgpack
array: `[protocol version, tag, sender node id, field, field, ...]`. The header comes first
and never changes shape, so a node can always read who sent a message and which protocol
it speaks before it tries to understand the rest; a peer speaking another version is
refused with a reason (`ProtocolMismatch`, answered with `Refused`), never half-parsed.

Rules for changing this file: add fields at the end of a message and new messages with new
tags; anything else (removing, reordering or retyping a field) bumps PROTOCOL_VERSION. A
field added at the end has a default, so nodes of one protocol version still understand
each other across the change (`_build`): a message from a peer that predates the field
decodes with the default, and a peer that predates it ignores the extra value.

Node ids are unsigned 64-bit ints; cluster keys are non-zero 48-bit ints (0 = no cluster).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import MISSING, dataclass, field, fields
from enum import IntEnum
from typing import Any, ClassVar, NamedTuple

import msgpack

from .records import RecordCopy

PROTOCOL_VERSION = 1
# Tag of `Refused`: readable by every protocol version, forever.
REFUSED_TAG = 1


class ProtocolMismatch(Exception):
    """A peer sent a message this node cannot understand; `reason` says why."""

    def __init__(self, reason: str, src: int = 0, version: int = 0):
        super().__init__(reason)
        self.reason = reason
        self.src = src
        self.version = version


class Status(IntEnum):
    """Answer codes of acknowledgements (migration, replication, duplicate resolution)."""

    OK = 0
    BUSY = 1  # receiver at migrate-max-num-incoming; retry later
    WRONG_VIEW = 2  # sender and receiver are in different cluster views (cluster key)
    NOT_READY = 3  # same view, but the receiver has not finished the partition exchange
    REJECTED = 4  # the receiver's partition plan does not expect this
    UNKNOWN = 5  # no such migration (aborted or already finished)


class Ballot(NamedTuple):
    """Paxos proposal number: a counter, then the proposer's node id to break ties."""

    counter: int
    node: int


ZERO_BALLOT = Ballot(0, 0)


# --- payload types ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NsVersions:
    """One node's partition versions for one namespace, compactly.

    `table` lists the distinct versions as (state, epoch, cluster key); `index` holds one
    little-endian uint16 per partition: 0 = no data, i = table[i - 1]. 4096 partitions cost
    8 KiB however many distinct versions there are.
    """

    ns: str
    table: tuple[tuple[int, int, int], ...]
    index: bytes


def _pack_copy(c: RecordCopy) -> list:
    return [c.kind, c.value, c.gen, c.void, c.lut, c.tombstone]


def _unpack_copy(v: list) -> RecordCopy:
    return RecordCopy(v[0], v[1], v[2], v[3], v[4], bool(v[5]))


def _pack_opt_copy(c: RecordCopy | None) -> list | None:
    return None if c is None else _pack_copy(c)


def _unpack_opt_copy(v: list | None) -> RecordCopy | None:
    return None if v is None else _unpack_copy(v)


def _pack_records(items: tuple[tuple[bytes, RecordCopy], ...]) -> list:
    return [[k, _pack_copy(c)] for k, c in items]


def _unpack_records(v: list) -> tuple[tuple[bytes, RecordCopy], ...]:
    return tuple((k, _unpack_copy(c)) for k, c in v)


def _pack_versions(items: tuple[NsVersions, ...]) -> list:
    return [[n.ns, [list(t) for t in n.table], n.index] for n in items]


def _unpack_versions(v: list) -> tuple[NsVersions, ...]:
    return tuple(NsVersions(ns, tuple(tuple(t) for t in table), index) for ns, table, index in v)


def _pack_node_versions(items: tuple[tuple[int, tuple[NsVersions, ...]], ...]) -> list:
    return [[node, _pack_versions(vs)] for node, vs in items]


def _unpack_node_versions(v: list) -> tuple[tuple[int, tuple[NsVersions, ...]], ...]:
    return tuple((node, _unpack_versions(vs)) for node, vs in v)


def _ballot(v: list) -> Ballot:
    return Ballot(v[0], v[1])


def _ints(v: list) -> tuple[int, ...]:
    return tuple(v)


def _adjacency(v: list) -> tuple[tuple[int, str], ...]:
    return tuple((n, a) for n, a in v)


def _bytes_tuple(v: list) -> tuple[bytes, ...]:
    return tuple(v)


def _lists(v: tuple) -> list:
    return [list(item) for item in v]


def _tuples(v: list) -> tuple:
    return tuple(tuple(item) for item in v)


# --- registry and codec -------------------------------------------------------------------

_BY_TAG: dict[int, type[Message]] = {}


class Message:
    """Base of every message. Subclasses are frozen slotted dataclasses made by `message`."""

    TAG: ClassVar[int] = 0
    # field name -> (pack, unpack) for fields that are not plain msgpack values
    CODEC: ClassVar[dict[str, tuple[Callable[[Any], Any], Callable[[Any], Any]]]] = {}
    _fields: ClassVar[tuple[str, ...]] = ()
    _required: ClassVar[int] = 0  # leading fields without a default
    _packers: ClassVar[tuple[Callable[[Any], Any] | None, ...]] = ()
    _unpackers: ClassVar[tuple[Callable[[Any], Any] | None, ...]] = ()


def message(tag: int) -> Callable[[type], type]:
    """Register a message dataclass under `tag` and precompute its field codecs."""

    def register(cls: type) -> type:
        if tag in _BY_TAG:
            raise ValueError(f"message tag {tag} used twice")
        cls = dataclass(frozen=True, slots=True)(cls)
        cls.TAG = tag
        names = tuple(f.name for f in fields(cls))
        codec = cls.CODEC
        cls._fields = names
        cls._required = sum(
            1 for f in fields(cls) if f.default is MISSING and f.default_factory is MISSING
        )
        cls._packers = tuple(codec[n][0] if n in codec else None for n in names)
        cls._unpackers = tuple(codec[n][1] if n in codec else None for n in names)
        _BY_TAG[tag] = cls
        return cls

    return register


def encode(msg: Message, src: int, version: int = PROTOCOL_VERSION) -> bytes:
    """The wire form of `msg` sent by node `src` (`version` only differs in tests)."""
    out: list[Any] = [version, msg.TAG, src]
    for name, pack in zip(msg._fields, msg._packers, strict=True):
        value = getattr(msg, name)
        out.append(pack(value) if pack is not None and value is not None else value)
    return msgpack.packb(out, use_bin_type=True)


def decode(data: bytes) -> tuple[int, Message]:
    """(sender node id, message) from wire bytes.

    Raises ProtocolMismatch for another protocol version (except `Refused`, which every
    version reads) or for bytes that are not a well-formed message of this version.
    """
    try:
        items = msgpack.unpackb(data, raw=False, strict_map_key=False, use_list=True)
    except Exception as exc:  # msgpack raises several unrelated exception types
        raise ProtocolMismatch(f"undecodable message: {exc}") from None
    if not isinstance(items, list) or len(items) < 3:
        raise ProtocolMismatch("malformed message header")
    version, tag, src = items[0], items[1], items[2]
    if not isinstance(src, int):
        raise ProtocolMismatch("malformed message header")
    if tag == REFUSED_TAG and isinstance(version, int):
        return src, _build(Refused, items[3:], src, version)
    if version != PROTOCOL_VERSION:
        raise ProtocolMismatch(
            f"node {src:016x} speaks cluster protocol {version}, this node speaks "
            f"{PROTOCOL_VERSION}",
            src,
            version if isinstance(version, int) else 0,
        )
    cls = _BY_TAG.get(tag)
    if cls is None:
        raise ProtocolMismatch(f"unknown message tag {tag} from node {src:016x}", src, version)
    return src, _build(cls, items[3:], src, version)


def _build(cls: type[Message], values: list, src: int, version: int) -> Message:
    """The message from its wire fields. Missing trailing fields that have a default (the
    sender predates them) take the default; extra trailing fields (the sender is newer) are
    ignored; see the rules in the module docstring."""
    if len(values) < cls._required:
        raise ProtocolMismatch(
            f"{cls.__name__} from node {src:016x} is missing fields", src, version
        )
    try:
        args = [
            un(v) if un is not None and v is not None else v
            for un, v in zip(cls._unpackers, values, strict=False)
        ]
        return cls(*args)
    except Exception as exc:
        raise ProtocolMismatch(
            f"bad {cls.__name__} from node {src:016x}: {exc}", src, version
        ) from None


# --- the messages -------------------------------------------------------------------------


@message(REFUSED_TAG)
class Refused(Message):
    """'I will not talk to you': sent in answer to a message of another protocol version."""

    version: int
    reason: str


@message(2)
class Pulse(Message):
    """Mesh heartbeat, sent every heartbeat-interval to every known node and every seed.

    Carries what Aerospike's pulse carries (node id in the header, the sender's address,
    its adjacency list with addresses so that every node learns every other, its cluster
    key and succession list) plus what the principal needs to decide view changes: the
    view epoch, whether the sender finished the partition exchange for that view and how
    many migrations it still has pending. `boot_id` changes on every start, so a restarted
    node is recognised even if it came back within the heartbeat timeout. `quiesced`: an
    operator asked this node to hand off mastership (`ClusterNode.set_quiesced`); the
    principal puts the quiesced members into the next view, whose partition table moves
    them to the end of every row.
    """

    address: str
    boot_id: int
    adjacency: tuple[tuple[int, str], ...]
    cluster_key: int
    succession: tuple[int, ...]
    epoch: int
    rebalanced: bool
    migrations_pending: int
    quiesced: bool = False
    metadata: bytes = b""  # digest of the sender's system-metadata catalog (cluster/metadata.py)
    CODEC = {"adjacency": (list, _adjacency), "succession": (list, _ints)}


@message(10)
class PaxosPrepare(Message):
    """Phase 1a: the principal asks every node of the proposed succession list to promise."""

    ballot: Ballot
    succession: tuple[int, ...]
    CODEC = {"ballot": (list, _ballot), "succession": (list, _ints)}


@message(11)
class PaxosPromise(Message):
    """Phase 1b: promise to ignore lower ballots; reports the highest epoch the node knows."""

    ballot: Ballot
    max_epoch: int
    CODEC = {"ballot": (list, _ballot)}


@message(12)
class PaxosNack(Message):
    """Refusal of a prepare or accept, with the ballot the acceptor is bound to and why."""

    ballot: Ballot
    promised: Ballot
    reason: str
    CODEC = {"ballot": (list, _ballot), "promised": (list, _ballot)}


@message(13)
class PaxosAccept(Message):
    """Phase 2a: the proposed view (new random cluster key, succession list, epoch, and the
    quiesced members the view's partition table moves to the end of every row)."""

    ballot: Ballot
    cluster_key: int
    succession: tuple[int, ...]
    epoch: int
    quiesced: tuple[int, ...] = ()
    CODEC = {"ballot": (list, _ballot), "succession": (list, _ints), "quiesced": (list, _ints)}


@message(14)
class PaxosAccepted(Message):
    """Phase 2b: the acceptor accepted the ballot's view."""

    ballot: Ballot
    CODEC = {"ballot": (list, _ballot)}


@message(15)
class PaxosCommit(Message):
    """Every node accepted: adopt the view."""

    ballot: Ballot
    cluster_key: int
    succession: tuple[int, ...]
    epoch: int
    quiesced: tuple[int, ...] = ()
    CODEC = {"ballot": (list, _ballot), "succession": (list, _ints), "quiesced": (list, _ints)}


@message(20)
class ExchangeVersions(Message):
    """A node's partition versions for a new view, sent to the principal."""

    cluster_key: int
    namespaces: tuple[NsVersions, ...]
    CODEC = {"namespaces": (_pack_versions, _unpack_versions)}


@message(21)
class ExchangeResult(Message):
    """Every node's partition versions, sent by the principal; all nodes rebalance from it."""

    cluster_key: int
    nodes: tuple[tuple[int, tuple[NsVersions, ...]], ...]
    CODEC = {"nodes": (_pack_node_versions, _unpack_node_versions)}


class MigrationKind(IntEnum):
    FILL = 0  # the working master streams the partition to a replica that lacks it
    MERGE = 1  # a holder of a duplicate (other version) streams it into the working master


@message(30)
class MigrateStart(Message):
    cluster_key: int
    mig_id: int
    ns: str
    pid: int
    kind: int
    n_records: int


@message(31)
class MigrateStartAck(Message):
    cluster_key: int
    mig_id: int
    status: int


@message(32)
class MigrateBatch(Message):
    """Records of a migrating partition; the receiver applies each with replace-if-better."""

    cluster_key: int
    mig_id: int
    seq: int
    records: tuple[tuple[bytes, RecordCopy], ...]
    CODEC = {"records": (_pack_records, _unpack_records)}


@message(33)
class MigrateBatchAck(Message):
    cluster_key: int
    mig_id: int
    seq: int
    status: int


@message(34)
class MigrateDone(Message):
    cluster_key: int
    mig_id: int
    n_records: int


@message(35)
class MigrateDoneAck(Message):
    cluster_key: int
    mig_id: int
    status: int


@message(40)
class ReplicaWrite(Message):
    """The master's new copy of a record, for a replica to store."""

    cluster_key: int
    txn: int
    ns: str
    pid: int
    key: bytes
    copy: RecordCopy
    CODEC = {"copy": (_pack_copy, _unpack_copy)}


@message(41)
class ReplicaAck(Message):
    cluster_key: int
    txn: int
    status: int


@message(42)
class DupResRequest(Message):
    """The working master asks a duplicate holder for its copy of one record."""

    cluster_key: int
    txn: int
    ns: str
    pid: int
    key: bytes


@message(43)
class DupResReply(Message):
    cluster_key: int
    txn: int
    status: int
    copy: RecordCopy | None
    CODEC = {"copy": (_pack_opt_copy, _unpack_opt_copy)}


@message(50)
class ProxyRequest(Message):
    """A client command forwarded to the partition's master (opaque to the cluster core).

    `args` are the Redis command's arguments and `resp_proto` the client's RESP version,
    so the master can execute it and encode the reply as the client expects.
    """

    txn: int
    ns: str
    pid: int
    resp_proto: int
    args: tuple[bytes, ...]
    CODEC = {"args": (list, _bytes_tuple)}


@message(51)
class ProxyResponse(Message):
    """The master's reply to a proxied command: an Aerospike result code and opaque bytes."""

    txn: int
    result: int
    reply: bytes


@message(60)
class MetadataEntries(Message):
    """System-metadata catalog entries (engine/catalog.py), each `(module, key, value or
    None for a deletion, stamp, origin node)`; the receiver keeps those that beat its own."""

    entries: tuple[tuple[str, str, bytes | None, int, int], ...]
    CODEC = {"entries": (_lists, _tuples)}


@message(61)
class PubSubPublish(Message):
    """A client's PUBLISH on the sender, for the receiver's own subscribers
    (cluster/pubsub_relay.py); answered with `PubSubCount`."""

    txn: int
    channel: bytes
    payload: bytes


@message(62)
class PubSubCount(Message):
    """How many of the receiver's subscribers got the message of `PubSubPublish(txn)`."""

    txn: int
    receivers: int


@dataclass(frozen=True, slots=True)
class Send:
    """Something for the transport to deliver: `msg` to node `dest`.

    `dest` is 0 for a seed whose node id is not known yet; then `addr` says where.
    """

    dest: int
    msg: Message
    addr: str = field(default="")


def all_message_types() -> dict[int, type[Message]]:
    """Tag -> message class (for tests and documentation)."""
    return dict(_BY_TAG)
