"""Native list and map operations (AS.LIST, AS.MAP, LIST.*/MAP.* in AS.OPERATE): every
selector (index, rank, value, value list, value interval, relative rank, key, key list, key
interval) with every return type, write flags, orders, error codes and record limits."""

from __future__ import annotations

import pytest
import redis

from respike.engine.cdt import structs
from respike.engine.record import HASH, LIST, SET, ZSET, pack_value, unpack_value


def L(r, key, bin_, *args):
    return r.execute_command("AS.LIST", key, bin_, *args)


def M(r, key, bin_, *args):
    return r.execute_command("AS.MAP", key, bin_, *args)


def code(exc_info) -> str:
    return str(exc_info.value).rsplit("(", 1)[-1].rstrip(")")


@pytest.fixture
def lst(r3):
    """A hash record with list bin `b`: [3, 1, 2, 'b', 'a', 2]."""
    assert L(r3, "h", "b", "APPEND_ITEMS", "6", "3", "1", "2", "b", "a", "2") == 6
    return r3


def test_list_writes(r3):
    assert L(r3, "h", "b", "APPEND", "x") == 1
    assert L(r3, "h", "b", "INSERT", "0", "w") == 2
    assert L(r3, "h", "b", "INSERT_ITEMS", "1", "2", "p", "q") == 4
    assert L(r3, "h", "b", "SET", "-1", "z") is None
    assert L(r3, "h", "b", "GET_RANGE", "0") == [b"w", b"p", b"q", b"z"]
    assert L(r3, "h", "b", "INSERT", "6", "far") == 7  # beyond the end pads with nil
    assert L(r3, "h", "b", "GET_RANGE", "4") == [None, None, b"far"]
    assert L(r3, "h", "b", "POP", "-1") == b"far"
    assert L(r3, "h", "b", "POP_RANGE", "4") == [None, None]
    assert L(r3, "h", "b", "REMOVE", "0") == 1
    assert L(r3, "h", "b", "REMOVE_RANGE", "1", "1") == 1
    assert L(r3, "h", "b", "GET_RANGE", "0") == [b"p", b"z"]
    assert L(r3, "h", "b", "APPEND_ITEMS", "3", "5", "5", "9") == 5
    assert L(r3, "h", "b", "TRIM", "1", "3") == 2
    assert L(r3, "h", "b", "GET_RANGE", "0") == [b"z", 5, 5]
    assert L(r3, "h", "b", "INCREMENT", "1") == 6
    assert L(r3, "h", "b", "INCREMENT", "2", "-7") == -2
    assert L(r3, "h", "b", "INCREMENT", "1", "0.5") == 6  # an integer element stays an integer
    assert L(r3, "h", "b", "SORT") is None
    assert L(r3, "h", "b", "GET_RANGE", "0") == [-2, 6, b"z"]
    assert L(r3, "h", "b", "APPEND_ITEMS", "2", "6", "6") == 5
    assert L(r3, "h", "b", "SORT", "DROP_DUPLICATES") is None
    assert L(r3, "h", "b", "GET_RANGE", "0") == [-2, 6, b"z"]
    assert L(r3, "h", "b", "SIZE") == 3 and L(r3, "h", "b", "GET", "-1") == b"z"
    assert L(r3, "h", "b", "CLEAR") is None and L(r3, "h", "b", "SIZE") == 0
    assert r3.type("h") == b"hash"


def test_list_selectors_and_return_types(lst):
    r = lst
    # by index
    assert L(r, "h", "b", "GET_BY_INDEX", "1") == 1
    assert L(r, "h", "b", "GET_BY_INDEX", "RETURN", "INDEX", "-1") == 5
    assert L(r, "h", "b", "GET_BY_INDEX", "RETURN", "REVERSE_INDEX", "0") == 5
    assert L(r, "h", "b", "GET_BY_INDEX", "RETURN", "RANK", "0") == 3
    assert L(r, "h", "b", "GET_BY_INDEX", "RETURN", "REVERSE_RANK", "0") == 2
    assert L(r, "h", "b", "GET_BY_INDEX", "RETURN", "COUNT", "0") == 1
    assert L(r, "h", "b", "GET_BY_INDEX", "RETURN", "EXISTS", "0") is True
    assert L(r, "h", "b", "GET_BY_INDEX", "RETURN", "NONE", "0") is None
    assert L(r, "h", "b", "GET_BY_INDEX_RANGE", "1", "2") == [1, 2]
    assert L(r, "h", "b", "GET_BY_INDEX_RANGE", "-2") == [b"a", 2]
    assert L(r, "h", "b", "GET_BY_INDEX_RANGE", "INVERTED", "1", "4") == [3, 2]
    assert L(r, "h", "b", "GET_BY_INDEX_RANGE", "RETURN", "COUNT", "10") == 0
    # by rank (value order: 1 2 2 3 'a' 'b')
    assert L(r, "h", "b", "GET_BY_RANK", "0") == 1
    assert L(r, "h", "b", "GET_BY_RANK", "-1") == b"b"
    assert L(r, "h", "b", "GET_BY_RANK", "RETURN", "INDEX", "-1") == 3
    assert L(r, "h", "b", "GET_BY_RANK_RANGE", "0", "3") == [1, 2, 2]
    assert L(r, "h", "b", "GET_BY_RANK_RANGE", "RETURN", "INDEX", "0", "3") == [1, 2, 5]
    assert L(r, "h", "b", "GET_BY_RANK_RANGE", "RETURN", "RANK", "-2") == [4, 5]
    assert L(r, "h", "b", "GET_BY_RANK_RANGE", "RETURN", "REVERSE_RANK", "-2") == [1, 0]
    # by value
    assert L(r, "h", "b", "GET_BY_VALUE", "2") == [2, 2]
    assert L(r, "h", "b", "GET_BY_VALUE", "RETURN", "INDEX", "2") == [2, 5]
    assert L(r, "h", "b", "GET_BY_VALUE", "RETURN", "COUNT", "nope") == 0
    assert L(r, "h", "b", "GET_BY_VALUE", "RETURN", "EXISTS", "nope") is False
    assert L(r, "h", "b", "GET_BY_VALUE_LIST", "2", "a", "3") == [3, b"a"]
    assert L(r, "h", "b", "GET_BY_VALUE_LIST", "INVERTED", "2", "a", "3") == [1, 2, b"b", 2]
    # by value interval [begin, end): integers sort before strings
    assert L(r, "h", "b", "GET_BY_VALUE_INTERVAL", "2", "3") == [2, 2]
    assert L(r, "h", "b", "GET_BY_VALUE_INTERVAL", "2", "+") == [3, 2, b"b", b"a", 2]
    assert L(r, "h", "b", "GET_BY_VALUE_INTERVAL", "-", "a") == [3, 1, 2, 2]
    assert L(r, "h", "b", "GET_BY_VALUE_INTERVAL", "RETURN", "REVERSE_INDEX", "a", "+") == [2, 1]
    # relative rank: ranks counted from where the value would sort
    assert L(r, "h", "b", "GET_BY_VALUE_REL_RANK_RANGE", "2", "1") == [2, 3, b"a", b"b"]
    assert L(r, "h", "b", "GET_BY_VALUE_REL_RANK_RANGE", "3", "-1", "2") == [2, 3]
    # a single index or rank out of range is OP_NOT_APPLICABLE
    for args in (("GET_BY_INDEX", "6"), ("GET_BY_RANK", "-7"), ("GET", "9")):
        with pytest.raises(redis.ResponseError) as e:
            L(r, "h", "b", *args)
        assert code(e) == "26"


def test_list_removes(lst):
    r = lst
    assert L(r, "h", "b", "REMOVE_BY_VALUE", "2") == 2
    assert L(r, "h", "b", "REMOVE_BY_INDEX", "RETURN", "VALUE", "0") == 3
    assert L(r, "h", "b", "REMOVE_BY_RANK_RANGE", "RETURN", "VALUE", "-1") == [b"b"]
    assert L(r, "h", "b", "GET_RANGE", "0") == [1, b"a"]
    assert L(r, "h", "b", "REMOVE_BY_VALUE_INTERVAL", "RETURN", "INDEX", "-", "+") == [0, 1]
    assert L(r, "h", "b", "SIZE") == 0
    assert L(r, "h", "nobin", "REMOVE_BY_INDEX", "0") is None  # no bin: a no-op


def test_list_flags(r3):
    assert L(r3, "h", "u", "APPEND_ITEMS", "2", "a", "b") == 2
    with pytest.raises(redis.ResponseError) as e:
        L(r3, "h", "u", "APPEND", "UNIQUE", "a")
    assert code(e) == "24"
    assert L(r3, "h", "u", "APPEND", "UNIQUE", "NOFAIL", "a") == 2
    assert L(r3, "h", "u", "APPEND_ITEMS", "UNIQUE", "NOFAIL", "PARTIAL", "2", "a", "c") == 3
    assert L(r3, "h", "u", "APPEND_ITEMS", "UNIQUE", "NOFAIL", "2", "a", "d") == 3  # all or nothing
    with pytest.raises(redis.ResponseError) as e:
        L(r3, "h", "u", "INSERT", "BOUNDED", "9", "x")
    assert code(e) == "26"
    assert L(r3, "h", "u", "INSERT", "BOUNDED", "NOFAIL", "9", "x") == 3
    with pytest.raises(redis.ResponseError) as e:
        L(r3, "h", "u", "INCREMENT", "0")
    assert code(e) == "4"  # not a number


def test_ordered_list(r3):
    assert L(r3, "h", "o", "APPEND", "ORDER", "ORDERED", "5") == 1
    assert L(r3, "h", "o", "APPEND_ITEMS", "4", "1", "9", "b", "3") == 5
    assert L(r3, "h", "o", "GET_RANGE", "0") == [1, 3, 5, 9, b"b"]
    assert L(r3, "h", "o", "GET_BY_INDEX", "RETURN", "RANK", "2") == 2
    with pytest.raises(redis.ResponseError) as e:
        L(r3, "h", "o", "INSERT", "0", "7")
    assert code(e) == "26"
    assert L(r3, "h", "o", "INCREMENT", "0", "10") == 11
    assert L(r3, "h", "o", "GET_RANGE", "0") == [3, 5, 9, 11, b"b"]
    assert L(r3, "h", "o", "SET_ORDER", "UNORDERED") is None
    assert L(r3, "h", "o", "APPEND", "0") == 6 and L(r3, "h", "o", "GET", "-1") == 0


def test_map_writes_and_flags(r3):
    assert M(r3, "h", "m", "PUT", "b", "2") == 1
    assert M(r3, "h", "m", "PUT_ITEMS", "3", "a", "1", "c", "3", "d", "x") == 4
    assert M(r3, "h", "m", "INCREMENT", "a", "10") == 11
    assert M(r3, "h", "m", "DECREMENT", "new") == -1
    assert M(r3, "h", "m", "SIZE") == 5
    with pytest.raises(redis.ResponseError) as e:
        M(r3, "h", "m", "PUT", "CREATE_ONLY", "a", "0")
    assert code(e) == "24"
    with pytest.raises(redis.ResponseError) as e:
        M(r3, "h", "m", "PUT", "UPDATE_ONLY", "zz", "0")
    assert code(e) == "23"
    assert M(r3, "h", "m", "PUT", "UPDATE_ONLY", "NOFAIL", "zz", "0") == 5
    assert (
        M(r3, "h", "m", "PUT_ITEMS", "CREATE_ONLY", "NOFAIL", "PARTIAL", "2", "a", "0", "e", "5")
        == 6
    )
    assert M(r3, "h", "m", "GET_BY_KEY", "e") == 5
    with pytest.raises(redis.ResponseError) as e:
        M(r3, "h", "m", "INCREMENT", "d")
    assert code(e) == "4"
    assert M(r3, "h", "m", "CLEAR") is None and M(r3, "h", "m", "SIZE") == 0


@pytest.fixture
def mp(r3):
    """Map bin `m` {c: 3, a: 1, b: 2, d: 2} (insertion order differs from key order)."""
    assert M(r3, "h", "m", "PUT_ITEMS", "4", "c", "3", "a", "1", "b", "2", "d", "2") == 4
    return r3


def test_map_selectors_and_return_types(mp):
    r = mp
    # by key
    assert M(r, "h", "m", "GET_BY_KEY", "b") == 2
    assert M(r, "h", "m", "GET_BY_KEY", "RETURN", "KEY_VALUE", "b") == {b"b": 2}
    assert M(r, "h", "m", "GET_BY_KEY", "RETURN", "INDEX", "c") == 2
    assert M(r, "h", "m", "GET_BY_KEY", "RETURN", "RANK", "c") == 3
    assert M(r, "h", "m", "GET_BY_KEY", "RETURN", "EXISTS", "zz") is False
    assert M(r, "h", "m", "GET_BY_KEY", "RETURN", "INDEX", "zz") == -1
    assert M(r, "h", "m", "GET_BY_KEY_LIST", "RETURN", "KEY", "2", "d", "a") == [b"a", b"d"]
    assert M(r, "h", "m", "GET_BY_KEY_INTERVAL", "RETURN", "KEY_VALUE", "b", "d") == {
        b"b": 2,
        b"c": 3,
    }
    assert M(r, "h", "m", "GET_BY_KEY_INTERVAL", "RETURN", "COUNT", "-", "+") == 4
    assert M(r, "h", "m", "GET_BY_KEY_REL_INDEX_RANGE", "RETURN", "KEY", "b", "1") == [b"c", b"d"]
    # by index (key order a b c d)
    assert M(r, "h", "m", "GET_BY_INDEX", "RETURN", "KEY", "0") == b"a"
    assert M(r, "h", "m", "GET_BY_INDEX", "RETURN", "VALUE", "-1") == 2
    assert M(r, "h", "m", "GET_BY_INDEX_RANGE", "RETURN", "KEY_VALUE", "1", "2") == {
        b"b": 2,
        b"c": 3,
    }
    assert M(r, "h", "m", "GET_BY_INDEX_RANGE", "RETURN", "REVERSE_INDEX", "1", "2") == [2, 1]
    # by rank (value order a:1 b:2 d:2 c:3)
    assert M(r, "h", "m", "GET_BY_RANK", "RETURN", "KEY", "-1") == b"c"
    assert M(r, "h", "m", "GET_BY_RANK_RANGE", "RETURN", "KEY", "0", "2") == [b"a", b"b"]
    assert M(r, "h", "m", "GET_BY_RANK_RANGE", "RETURN", "KEY", "INVERTED", "0", "2") == [
        b"c",
        b"d",
    ]
    # by value
    assert M(r, "h", "m", "GET_BY_VALUE", "RETURN", "KEY", "2") == [b"b", b"d"]
    assert M(r, "h", "m", "GET_BY_VALUE_LIST", "RETURN", "COUNT", "2", "1", "3") == 2
    assert M(r, "h", "m", "GET_BY_VALUE_INTERVAL", "RETURN", "KEY_VALUE", "2", "+") == {
        b"b": 2,
        b"c": 3,
        b"d": 2,
    }
    assert M(r, "h", "m", "GET_BY_VALUE_REL_RANK_RANGE", "RETURN", "KEY", "2", "-1", "2") == [
        b"a",
        b"b",
    ]
    with pytest.raises(redis.ResponseError) as e:
        M(r, "h", "m", "GET_BY_INDEX", "4")
    assert code(e) == "26"
    with pytest.raises(redis.ResponseError) as e:
        M(r, "h", "m", "GET_BY_KEY", "RETURN", "KEY_VALUE", "INVERTED", "a")
    assert code(e) == "26"


def test_map_removes(mp):
    r = mp
    assert M(r, "h", "m", "REMOVE_BY_KEY", "a") == 1
    assert M(r, "h", "m", "REMOVE_BY_VALUE", "RETURN", "KEY", "2") == [b"b", b"d"]
    assert M(r, "h", "m", "REMOVE_BY_RANK_RANGE", "RETURN", "KEY_VALUE", "0") == {b"c": 3}
    assert M(r, "h", "m", "SIZE") == 0


def test_key_ordered_map(r3):
    assert M(r3, "h", "k", "PUT", "ORDER", "KEY_ORDERED", "z", "1") == 1
    assert M(r3, "h", "k", "PUT_ITEMS", "2", "a", "2", "m", "3") == 3
    assert r3.execute_command("AS.GET", "h", "k")[b"bins"][b"k"] == {b"a": 2, b"m": 3, b"z": 1}
    assert M(r3, "h", "k", "SET_ORDER", "UNORDERED") is None
    assert M(r3, "h", "k", "PUT", "b", "0") == 4
    assert list(r3.execute_command("AS.GET", "h", "k")[b"bins"][b"k"]) == [b"a", b"m", b"z", b"b"]


def test_json_values(r3):
    assert L(r3, "h", "j", "APPEND", "JSON", '{"n": 1.5, "l": [1, "x"]}') == 1
    assert L(r3, "h", "j", "APPEND", "JSON", "null") == 2
    assert L(r3, "h", "j", "GET_RANGE", "0") == [{b"n": 1.5, b"l": [1, b"x"]}, None]
    assert L(r3, "h", "j", "GET_BY_RANK", "0") is None  # nil sorts first
    with pytest.raises(redis.ResponseError) as e:
        L(r3, "h", "j", "APPEND", "JSON", "{bad")
    assert code(e) == "4"


def test_redis_collections_are_cdt_bins(r3):
    r3.rpush("q", "b", "10", "a")
    assert L(r3, "q", "list", "GET_BY_RANK", "0") == 10  # canonical integers are integers
    assert L(r3, "q", "list", "APPEND", "c") == 4 and r3.lrange("q", 0, -1) == [
        b"b",
        b"10",
        b"a",
        b"c",
    ]
    assert L(r3, "q", "list", "REMOVE_BY_VALUE_INTERVAL", "-", "+") == 4
    assert r3.exists("q") == 0  # an emptied Redis list is deleted
    r3.sadd("s", "x", "y")
    assert M(r3, "s", "set", "GET_BY_KEY", "RETURN", "KEY_VALUE", "x") == {b"x": True}
    assert M(r3, "s", "set", "PUT", "z", "1") == 3 and r3.smembers("s") == {b"x", b"y", b"z"}
    r3.zadd("z", {"a": 1, "b": 2, "c": 3})
    assert M(r3, "z", "zset", "GET_BY_RANK_RANGE", "RETURN", "KEY", "-2") == [b"b", b"c"]
    assert M(r3, "z", "zset", "INCREMENT", "a", "5") == 6.0
    assert M(r3, "z", "zset", "PUT", "d", "0.5") == 4
    assert r3.zrange("z", 0, -1) == [b"d", b"b", b"c", b"a"] and r3.type("z") == b"zset"
    assert M(r3, "z", "zset", "PUT", "e", "not-a-score") == 5
    assert r3.type("z") == b"hash"  # no longer a sorted set: a map bin of a multi-bin record
    with pytest.raises(redis.ResponseError) as e:
        L(r3, "s", "set", "APPEND", "x")
    assert code(e) == "12"  # a list op on a map bin


def test_operate_with_cdt_ops(r3):
    reply = r3.execute_command(
        "AS.OPERATE",
        "rec",
        "OPS",
        "LIST.APPEND_ITEMS",
        "l",
        "3",
        "c",
        "a",
        "b",
        "MAP.PUT",
        "m",
        "k",
        "1",
        "LIST.SORT",
        "l",
        "LIST.GET_BY_INDEX_RANGE",
        "l",
        "0",
        "MAP.SIZE",
        "m",
        "READ",
        "l",
    )
    assert reply[b"results"] == [3, 1, None, [b"a", b"b", b"c"], 1, [b"a", b"b", b"c"]]
    gen = reply[b"generation"]
    reply = r3.execute_command(
        "AS.OPERATE",
        "rec",
        "OPS",
        "LIST.GET_BY_RANK",
        "l",
        "RETURN",
        "INDEX",
        "-1",
        "MAP.GET_BY_KEY",
        "m",
        "k",
    )
    assert reply[b"results"] == [2, 1] and reply[b"generation"] == gen  # reads don't write
    with pytest.raises(redis.ResponseError) as e:
        r3.execute_command(
            "AS.OPERATE", "rec", "OPS", "LIST.APPEND", "l", "d", "LIST.GET_BY_INDEX", "l", "99"
        )
    assert code(e) == "26"
    assert L(r3, "rec", "l", "SIZE") == 3  # the failed operate changed nothing
    with pytest.raises(redis.ResponseError) as e:
        r3.execute_command("AS.OPERATE", "nokey", "OPS", "LIST.SIZE", "l")
    assert code(e) == "2"
    assert r3.execute_command("AS.OPERATE", "rl", "OPS", "LIST.APPEND", "list", "x")[
        b"results"
    ] == [1]
    assert r3.type("rl") == b"list" and r3.lrange("rl", 0, -1) == [b"x"]


def test_errors(r3):
    with pytest.raises(redis.ResponseError) as e:
        L(r3, "h", "b", "NOPE")
    assert code(e) == "4"
    with pytest.raises(redis.ResponseError) as e:
        L(r3, "h", "b", "GET_BY_INDEX", "x")
    assert code(e) == "4"
    with pytest.raises(redis.ResponseError) as e:
        L(r3, "h", "b", "APPEND", "a", "extra")
    assert code(e) == "4"
    with pytest.raises(redis.ResponseError) as e:
        L(r3, "nokey", "b", "SIZE")
    assert code(e) == "2"
    r3.set("str", "x")
    with pytest.raises(redis.ResponseError) as e:
        L(r3, "str", "value", "APPEND", "y")
    assert code(e) == "12"


def test_record_too_big(r3):
    old = r3.config_get("test.max-record-size")["test.max-record-size"]
    r3.config_set("test.max-record-size", 300)
    try:
        L(r3, "h", "b", "APPEND", "x" * 100)
        with pytest.raises(redis.ResponseError) as e:
            L(r3, "h", "b", "APPEND", "y" * 200)
        assert code(e) == "13"
        assert L(r3, "h", "b", "SIZE") == 1
    finally:
        r3.config_set("test.max-record-size", old)


def test_resp2_shapes(r):
    M(r, "h", "m", "PUT_ITEMS", "2", "a", "1", "b", "2")
    assert M(r, "h", "m", "GET_BY_INDEX_RANGE", "RETURN", "KEY_VALUE", "0") in (
        [b"a", 1, b"b", 2],
        {b"a": 1, b"b": 2},
    )


def test_values_round_trip_through_pack():
    from collections import deque

    values = [
        (LIST, deque([b"a", b"", b"10"])),
        (SET, structs.RSet([b"x", b"y"])),
        (ZSET, structs.ZSet([(b"a", 1.5), (b"b", float("-inf"))])),
        (
            HASH,
            {
                b"o": structs.OrderedList([1, 2]),
                b"k": structs.OrderedMap({b"a": 1}, by_value=True),
                b"p": [1, {b"x": None}],
                b"n": structs.OrderedMap({b"z": structs.OrderedList([2, 3])}),
            },
        ),  # packed while the packer is busy
    ]
    for kind, value in values:
        back = unpack_value(kind, pack_value(kind, value))
        assert back == value and type(back) is type(value)
    back = unpack_value(HASH, pack_value(HASH, values[3][1]))
    assert (
        type(back[b"o"]) is structs.OrderedList
        and type(back[b"k"]) is structs.OrderedMap
        and back[b"k"].by_value
    )
    assert type(back[b"n"][b"z"]) is structs.OrderedList


def test_short_strings_pack_as_msgpack_does():
    """pack_value writes a short string's msgpack header itself: the same bytes as msgpack."""
    import msgpack

    from respike.engine.record import STRING

    value = bytes(range(256)) * 20
    for n in (0, 1, 255, 256, 5000):
        assert pack_value(STRING, value[:n]) == msgpack.packb(value[:n], use_bin_type=True)
    assert pack_value(STRING, 12345) == msgpack.packb(12345)
