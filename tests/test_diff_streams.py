"""Differential test: random stream command sequences get the same replies from respike and
from a reference redis-server (RESP3, raw replies). Ids are explicit or `ms-*` (a `*` id
depends on each server's clock), and trimming is exact (`=` or none): with `~` Redis may
keep more entries than asked, respike trims exactly (docs/compatibility.md)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.test_diff_collections import Raw, cmd

STREAMS = [b"x1", b"x2"]
key = st.sampled_from(STREAMS + [b"str", b"nokey"])
ms = st.sampled_from([b"0", b"1", b"2", b"3", b"5", b"18446744073709551615"])
seq = st.sampled_from([b"0", b"1", b"2", b"*", b"18446744073709551615"])
ids = st.one_of(
    st.tuples(ms, seq).map(lambda t: t[0] + b"-" + t[1]),
    st.sampled_from([b"1", b"0-0", b"x", b"-1", b"1-x"]),
)
bound = st.one_of(
    ids.filter(lambda i: not i.endswith(b"*")),
    st.sampled_from(
        [b"-", b"+", b"(1-0", b"(2", b"(0-0", b"(18446744073709551615-18446744073709551615"]
    ),
)
fields = st.lists(st.sampled_from([b"f", b"g", b"1", b""]), min_size=1, max_size=4)
counts = st.sampled_from([b"0", b"1", b"2", b"-1", b"x"])
trim = st.one_of(
    st.just([]),
    st.tuples(
        st.sampled_from([b"MAXLEN", b"MINID", b"maxlen"]),
        st.sampled_from([[], [b"="]]),
        st.sampled_from([b"0", b"1", b"2", b"2-0", b"-1"]),
    ).map(lambda t: [t[0], *t[1], t[2]]),
)
stream_cmds = st.one_of(
    st.tuples(key, st.sampled_from([[], [b"NOMKSTREAM"]]), trim, ids, fields).map(
        lambda t: [b"XADD", t[0], *t[1], *t[2], t[3], *t[4]]
    ),
    cmd(b"XLEN", key),
    st.tuples(key, bound, bound, st.sampled_from([[], [b"COUNT"]]), counts).map(
        lambda t: [b"XRANGE", t[0], t[1], t[2], *([b"COUNT", t[4]] if t[3] else [])]
    ),
    st.tuples(key, bound, bound, counts).map(
        lambda t: [b"XREVRANGE", t[0], t[1], t[2], b"COUNT", t[3]]
    ),
    st.tuples(key, st.lists(ids, min_size=1, max_size=3)).map(lambda t: [b"XDEL", t[0], *t[1]]),
    st.tuples(key, trim.filter(bool)).map(lambda t: [b"XTRIM", t[0], *t[1]]),
    st.tuples(
        st.lists(st.tuples(key, st.one_of(bound, st.just(b"$"))), min_size=1, max_size=2), counts
    ).map(
        lambda t: [
            b"XREAD",
            b"COUNT",
            t[1],
            b"STREAMS",
            *[k for k, _ in t[0]],
            *[i for _, i in t[0]],
        ]
    ),
    cmd(b"TYPE", key),
    cmd(b"DEL", key),
)


@pytest.fixture(scope="module")
def pair(node, redis_server):
    ours, theirs = Raw(node.host, node.port), Raw(*redis_server)
    yield ours, theirs
    ours.close()
    theirs.close()


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(stream_cmds, min_size=1, max_size=25))
def test_same_replies_as_redis(pair, seq):
    ours, theirs = pair
    for client in pair:
        client.call(b"FLUSHALL")
        client.call(b"SET", b"str", b"x")
    for command in seq:
        assert ours.call(*command) == theirs.call(*command), command
    for k in STREAMS:
        assert ours.call(b"XRANGE", k, b"-", b"+") == theirs.call(b"XRANGE", k, b"-", b"+")
