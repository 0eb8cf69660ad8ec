"""Node-to-node messages: every type round-trips; another protocol version is refused."""

from __future__ import annotations

import dataclasses
import random

import msgpack
import pytest

from respike.cluster.config import ClusterConfig
from respike.cluster.events import PeerRefused
from respike.cluster.messages import (
    PROTOCOL_VERSION,
    REFUSED_TAG,
    Ballot,
    MigrateBatch,
    NsVersions,
    PaxosCommit,
    ProtocolMismatch,
    Pulse,
    Refused,
    ReplicaWrite,
    all_message_types,
    decode,
    encode,
)
from respike.cluster.node import ClusterNode
from respike.cluster.rebalance import (
    EMPTY,
    FULL,
    SUBSET,
    PartitionVersion,
    decode_versions,
    encode_versions,
)
from respike.cluster.records import RecordCopy
from tests.sim.store import DictStore

BIG_ID = (1 << 64) - 3  # node ids are unsigned 64-bit
COPY = RecordCopy(
    kind=1,
    value=msgpack.packb({b"f": 1}),
    gen=65535,
    void=1_700_000_000_000,
    lut=1_700_000_000_123,
    tombstone=False,
)


def sample(cls):
    """An instance of a message class with a non-default value in every field."""
    values = {}
    for f in dataclasses.fields(cls):
        name, t = f.name, str(f.type)
        if "Ballot" in t:
            values[name] = Ballot(7, BIG_ID)
        elif name == "records":
            values[name] = ((b"k1", COPY), (b"k2", dataclasses.replace(COPY, tombstone=True)))
        elif "RecordCopy" in t:
            values[name] = COPY
        elif name == "adjacency":
            values[name] = ((BIG_ID, "10.0.0.1:3002"), (5, "10.0.0.2:3002"))
        elif name == "succession":
            values[name] = (BIG_ID, 99, 5)
        elif name == "quiesced" and "tuple" in t:
            values[name] = (BIG_ID, 5)
        elif name == "namespaces":
            values[name] = (encode_versions("test", [EMPTY, PartitionVersion(FULL, 3, 0xABC)] * 8),)
        elif name == "nodes":
            values[name] = (
                (BIG_ID, (encode_versions("test", [PartitionVersion(SUBSET, 1, 2)] * 16),)),
            )
        elif name == "entries":  # catalog entries: a deletion (None) among them
            values[name] = (("udf", "a.lua", b"src", BIG_ID, 5), ("udf", "b.lua", None, 7, BIG_ID))
        elif name == "args":
            values[name] = (b"SET", b"k", b"\x00\xff")
        elif t == "bool":
            values[name] = True
        elif t == "int":
            values[name] = 0xFFFF_FFFF_FFFF  # 48-bit cluster keys and friends
        elif t == "str":
            values[name] = "test:ns"
        elif t == "bytes":
            values[name] = b"\x00binary\xff"
        else:
            raise AssertionError(f"no sample for {cls.__name__}.{name}: {t}")
    return cls(**values)


@pytest.mark.parametrize("cls", list(all_message_types().values()), ids=lambda c: c.__name__)
def test_every_message_round_trips(cls):
    msg = sample(cls)
    src, back = decode(encode(msg, BIG_ID))
    assert src == BIG_ID
    assert back == msg
    assert type(back) is cls


def test_tags_are_unique_and_listed():
    types = all_message_types()
    assert len(set(types)) == len(types)
    assert types[REFUSED_TAG] is Refused
    names = {c.__name__ for c in types.values()}
    for expected in (
        "Pulse",
        "PaxosPrepare",
        "PaxosCommit",
        "ExchangeVersions",
        "MigrateBatch",
        "ReplicaWrite",
        "ReplicaAck",
        "ProxyRequest",
        "ProxyResponse",
        "DupResRequest",
    ):
        assert expected in names


def test_optional_copy_none_round_trips():
    from respike.cluster.messages import DupResReply

    msg = DupResReply(5, 9, 0, None)
    assert decode(encode(msg, 1))[1] == msg


def _wire_fields(msg) -> list:
    return msgpack.unpackb(encode(msg, 77), raw=False, strict_map_key=False)


def test_field_added_at_the_end_is_optional_from_older_peers():
    """A peer that predates `Pulse.quiesced` and `Pulse.metadata` (or `PaxosCommit.quiesced`)
    omits them: the message still decodes, with the defaults; a newer peer's extra trailing
    field is ignored."""
    pulse = sample(Pulse)
    older = _wire_fields(pulse)[:-2]  # what a node without the fields sends
    _, back = decode(msgpack.packb(older, use_bin_type=True))
    assert back == dataclasses.replace(pulse, quiesced=False, metadata=b"")
    newer = _wire_fields(pulse) + ["a field from the future"]
    assert decode(msgpack.packb(newer, use_bin_type=True))[1] == pulse
    commit = sample(PaxosCommit)
    _, back = decode(msgpack.packb(_wire_fields(commit)[:-1], use_bin_type=True))
    assert back == dataclasses.replace(commit, quiesced=())
    # fields without a default are still required
    with pytest.raises(ProtocolMismatch, match="missing fields"):
        decode(msgpack.packb(_wire_fields(pulse)[:-3], use_bin_type=True))


def test_other_protocol_version_is_refused_with_a_reason():
    data = encode(sample(Pulse), 77, version=PROTOCOL_VERSION + 1)
    with pytest.raises(ProtocolMismatch) as err:
        decode(data)
    assert err.value.src == 77
    assert err.value.version == PROTOCOL_VERSION + 1
    assert (
        f"protocol {PROTOCOL_VERSION + 1}" in err.value.reason
        and f"speaks {PROTOCOL_VERSION}" in err.value.reason
    )


def test_refused_is_readable_by_every_version():
    data = encode(Refused(1, "go away"), 77, version=PROTOCOL_VERSION + 5)
    assert decode(data) == (77, Refused(1, "go away"))


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\xc1",
        msgpack.packb([1]),
        msgpack.packb([PROTOCOL_VERSION, 999, 5]),
        msgpack.packb([PROTOCOL_VERSION, ReplicaWrite.TAG, 5, 1]),
        msgpack.packb({"a": 1}),
    ],
)
def test_garbage_is_refused_not_crashing(data):
    with pytest.raises(ProtocolMismatch):
        decode(data)


def test_node_answers_a_foreign_version_with_refused():
    node = ClusterNode(ClusterConfig(node_id=10, address="a"), DictStore(16), 0, random.Random(1))
    sends = node.receive_bytes(encode(sample(Pulse), 77, version=9), 5)
    assert [(s.dest, type(s.msg)) for s in sends] == [(77, Refused)]
    events = node.take_events()
    assert isinstance(events[0], PeerRefused) and events[0].node == 77
    assert not node.hb.is_alive(77)  # a refused peer never counts as alive


def test_versions_encoding_round_trips():
    rng = random.Random(2)
    versions = [
        rng.choice([EMPTY, PartitionVersion(FULL, 4, 99), PartitionVersion(SUBSET, 2, 1 << 47)])
        for _ in range(4096)
    ]
    nv = encode_versions("test", versions)
    assert isinstance(nv, NsVersions) and len(nv.index) == 8192 and len(nv.table) == 2
    assert decode_versions(nv, 4096) == versions


def test_batch_with_many_records_is_compact():
    records = tuple((b"key:%d" % i, COPY) for i in range(100))
    data = encode(MigrateBatch(1, 2, 3, records), 1)
    assert len(data) < 100 * (len(COPY.value) + 40)
