"""Native `AS.` commands: Aerospike's record operations with its policies and metadata.

TTL values follow Aerospike: 0 = the namespace's default-ttl, -1 = never expire,
-2 = leave unchanged (the default on create), N = N seconds. Errors carry the Aerospike
result code and name, e.g. `-GENERATION record generation mismatch (3)`.
"""

from __future__ import annotations

import json
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from ...engine.cdt import ops as cdt_ops
from ...engine.cdt import record_shape
from ...engine.namespace import DEFAULT, KEEP, Namespace
from ...engine.record import HASH, KIND_NAMES, LIST, STRING, STRING_BIN, Record, to_bin, value_size
from ...errors import SYNTAX, RecordError, RedisError, ResultCode
from ...keyspace import digest_of, split_key
from ..encode import OK, encode
from ..table import command
from .args import to_int
from .lists import pushed
from .server import after

G = "native"
ACTIONS = ("UPDATE", "UPDATE_ONLY", "REPLACE", "REPLACE_ONLY", "CREATE_ONLY")
POLICY_ARGS = "[TTL ttl:integer] [GEN generation:integer|GENGT generation:integer] [EXISTS UPDATE|UPDATE_ONLY|REPLACE|REPLACE_ONLY|CREATE_ONLY] [COMMIT ALL|MASTER]"


@dataclass
class Policy:
    ttl: int = -2
    gen: int | None = None
    gen_gt: bool = False
    exists: str = "UPDATE"
    commit: str | None = None


def parse_policy(a: list[bytes], i: int, stop: tuple[bytes, ...]) -> tuple[Policy, int]:
    """Options from a[i] up to one of the `stop` words; returns the policy and that index."""
    policy = Policy()
    while i < len(a) and a[i].upper() not in stop:
        opt = a[i].upper()
        if i + 1 >= len(a):
            raise RedisError(SYNTAX)
        value = a[i + 1]
        if opt == b"TTL":
            policy.ttl = to_int(value)
        elif opt in (b"GEN", b"GENGT"):
            policy.gen, policy.gen_gt = to_int(value), opt == b"GENGT"
        elif opt == b"EXISTS" and value.upper().decode() in ACTIONS:
            policy.exists = value.upper().decode()
        elif opt == b"COMMIT" and value.upper() in (b"ALL", b"MASTER"):
            policy.commit = value.lower().decode()
        else:
            raise RedisError(SYNTAX)
        i += 2
    return policy, i


@contextmanager
def commit_level(c, policy: Policy):
    """COMMIT ALL|MASTER for the writes made inside (read by replication)."""
    if policy.commit is None:
        yield
        return
    c.engine.request_commit = policy.commit == "all"
    try:
        yield
    finally:
        c.engine.request_commit = None


def void_for(ns: Namespace, ttl: int) -> int:
    """Aerospike's TTL -> the void argument of Namespace.write."""
    if ttl == -2:
        return KEEP
    if ttl == 0:
        return DEFAULT
    if ttl == -1:
        return 0
    if ttl < 0:
        raise RecordError(ResultCode.PARAMETER, f"invalid TTL {ttl}")
    return ns.void_from_ttl_ms(ttl * 1000)


def check_policy(policy: Policy, rec: Record | None) -> None:
    if rec is None:
        if policy.exists in ("UPDATE_ONLY", "REPLACE_ONLY"):
            raise RecordError(ResultCode.KEY_NOT_FOUND, "key not found")
        return
    if policy.exists == "CREATE_ONLY":
        raise RecordError(ResultCode.KEY_EXISTS, "key already exists")
    if policy.gen is not None:
        ok = policy.gen > rec.gen if policy.gen_gt else policy.gen == rec.gen
        if not ok:
            raise RecordError(ResultCode.GENERATION, "record generation mismatch")


def commit_bins(
    ns: Namespace, key: bytes, rec: Record | None, bins: dict, void: int
) -> Record | None:
    """Store a record's new bins, keeping its Redis type where the bins still fit it."""
    for name in bins:
        if len(name) > ns.max_bin_name:
            raise RecordError(
                ResultCode.BIN_NAME, f"bin name of {len(name)} bytes exceeds max-bin-name-length"
            )
    if not bins:
        if rec is not None:
            ns.delete(key, rec)
        return None
    kind, value = HASH, bins
    if (
        rec is not None
        and rec.kind != HASH
        and list(bins) == [KIND_NAMES[rec.kind].encode() if rec.kind else STRING_BIN]
    ):
        kind, value = rec.kind, next(iter(bins.values()))
        if kind == STRING and value.__class__ not in (bytes, int, float):
            kind, value = HASH, bins  # a list, map or boolean is no Redis string
    elif list(bins) == [STRING_BIN] and rec is None and bins[STRING_BIN].__class__ in (bytes, int):
        kind, value = STRING, bins[STRING_BIN]
    if kind >= LIST or (kind == HASH and len(bins) == 1):
        kind, value = record_shape(kind, value, bins, rec is None)  # lists, sets, sorted sets
        if kind == HASH and not value:
            if rec is not None:
                ns.delete(key, rec)
            return None
    size = value_size(value) + (sum(len(n) for n in bins) if kind == HASH else 0)
    return ns.write(key, rec, kind, value, size, void)


def from_json(value: Any) -> Any:
    if isinstance(value, str):
        return to_bin(value.encode())
    if isinstance(value, list):
        return [from_json(v) for v in value]
    if isinstance(value, dict):
        return {k.encode(): from_json(v) for k, v in value.items()}
    return value


def _json_bins(doc: bytes) -> dict:
    try:
        data = json.loads(doc)
    except (ValueError, UnicodeDecodeError) as exc:
        raise RecordError(ResultCode.PARAMETER, f"bins are not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise RecordError(ResultCode.PARAMETER, "JSON bins must be an object")
    return {k.encode(): from_json(v) for k, v in data.items()}


def meta(ns: Namespace, key: bytes, rec: Record) -> dict[str, Any]:
    ttl = -1 if not rec.void else max(0, (rec.void - ns.clock() + 999) // 1000)
    _, setname, userkey = split_key(key, ns.namespaces)
    return {
        "namespace": ns.name,
        "set": setname,
        "key": userkey,
        "digest": digest_of(key).hex(),
        "generation": rec.gen,
        "ttl": ttl,
        "void_time": rec.void,
        "last_update_time": rec.lut,
        "type": KIND_NAMES[rec.kind],
    }


def _record(c, key: bytes) -> tuple[Namespace, Record | None]:
    ns = c.engine.namespace_for(key)
    return ns, ns.get(key)


def _must_exist(rec: Record | None) -> Record:
    if rec is None:
        raise RecordError(ResultCode.KEY_NOT_FOUND, "key not found")
    return rec


@command(
    "as.put",
    -4,
    "write denyoom",
    (1, 1, 1),
    G,
    "Writes bins to a record with Aerospike write policies.",
    f"key {POLICY_ARGS} BINS (bin value)...|JSON document",
    since="0.1.0",
    example="AS.PUT test:users:42 TTL 3600 EXISTS CREATE_ONLY BINS name ann age 31",
)
def as_put(c, a):
    key = a[1]
    policy, i = parse_policy(a, 2, (b"BINS", b"JSON"))
    if i >= len(a):
        raise RedisError(SYNTAX)
    if a[i].upper() == b"JSON":
        if i + 2 != len(a):
            raise RedisError(SYNTAX)
        new_bins = _json_bins(a[i + 1])
    else:
        pairs = a[i + 1 :]
        if not pairs or len(pairs) % 2:
            raise RedisError(SYNTAX)
        new_bins = {pairs[j]: to_bin(pairs[j + 1]) for j in range(0, len(pairs), 2)}
    ns, rec = _record(c, key)
    check_policy(policy, rec)
    replace = policy.exists in ("REPLACE", "REPLACE_ONLY") or rec is None
    bins = {} if replace else dict(rec.bins())  # type: ignore[union-attr]
    for name, value in new_bins.items():
        if value is None:
            bins.pop(name, None)
        else:
            bins[name] = value
    with commit_level(c, policy):
        commit_bins(ns, key, rec, bins, void_for(ns, policy.ttl))
    return OK


def _bins_reply(rec: Record, names: list[bytes] | None) -> dict:
    bins = rec.bins()
    if names is None:
        return dict(bins)
    return {n: bins[n] for n in names if n in bins}


@command(
    "as.get",
    -2,
    "readonly fast",
    (1, 1, 1),
    G,
    "Reads a record's bins (all, or those named) with its metadata.",
    "key [bin...]",
    since="0.1.0",
    example="AS.GET test:users:42 name",
)
def as_get(c, a):
    key = a[1]
    ns = c.engine.namespace_for(key)
    rec = _must_exist(ns.read(key))
    reply = meta(ns, key, rec)
    reply["bins"] = _bins_reply(rec, a[2:] or None)
    return encode(reply, c.proto)


@command(
    "as.getmeta",
    2,
    "readonly fast",
    (1, 1, 1),
    G,
    "Reads a record's metadata only (generation, TTL, last-update-time).",
    "key",
    since="0.1.0",
    example="AS.GETMETA test:users:42",
)
def as_getmeta(c, a):
    key = a[1]
    ns = c.engine.namespace_for(key)
    return encode(meta(ns, key, _must_exist(ns.read(key))), c.proto)


@command(
    "as.exists",
    2,
    "readonly fast",
    (1, 1, 1),
    G,
    "Tells whether a record exists (1) or not (0).",
    "key",
    since="0.1.0",
    example="AS.EXISTS test:users:42",
)
def as_exists(c, a):
    _, rec = _record(c, a[1])
    return b":1\r\n" if rec is not None else b":0\r\n"


@command(
    "as.delete",
    -2,
    "write fast",
    (1, 1, 1),
    G,
    "Deletes a record, optionally only at a given generation.",
    "key [GEN generation:integer] [COMMIT ALL|MASTER]",
    since="0.1.0",
    example="AS.DELETE test:users:42 GEN 3",
)
def as_delete(c, a):
    key = a[1]
    policy, i = parse_policy(a, 2, ())
    if policy.exists != "UPDATE" or policy.ttl != -2:
        raise RedisError(SYNTAX)
    ns, rec = _record(c, key)
    rec = _must_exist(rec)
    check_policy(policy, rec)
    with commit_level(c, policy):
        ns.delete(key, rec)
    return OK


@command(
    "as.touch",
    -2,
    "write fast",
    (1, 1, 1),
    G,
    "Bumps a record's generation and resets its TTL (default: the namespace's default-ttl).",
    "key [TTL ttl:integer] [GEN generation:integer] [COMMIT ALL|MASTER]",
    since="0.1.0",
    example="AS.TOUCH test:users:42 TTL 600",
)
def as_touch(c, a):
    key = a[1]
    policy, _ = parse_policy(a, 2, ())
    ns, rec = _record(c, key)
    rec = _must_exist(rec)
    check_policy(policy, rec)
    ttl = 0 if policy.ttl == -2 else policy.ttl
    with commit_level(c, policy):
        ns.touch(key, rec, void_for(ns, ttl))
    return OK


# --- operate ---------------------------------------------------------------------------

OP_ARITY = {
    b"READ": 1,
    b"READALL": 0,
    b"WRITE": 2,
    b"WRITEJSON": 2,
    b"INCR": 2,
    b"APPEND": 2,
    b"PREPEND": 2,
    b"DELETE": 1,
    b"TOUCH": 0,
}


def parse_ops(a: list[bytes], i: int) -> list[tuple[bytes, list[bytes]]]:
    ops = []
    while i < len(a):
        name = a[i].upper()
        if name.startswith((b"LIST.", b"MAP.")):  # CDT ops: LIST.<OP> bin [modifiers] args
            kind, _, opname = name.decode("utf-8", "replace").partition(".")
            if i + 1 >= len(a):
                raise RecordError(
                    ResultCode.PARAMETER, f"{name.decode('utf-8', 'replace')} needs a bin name"
                )
            op, j = cdt_ops.parse(kind.lower(), a, i + 2, opname)
            ops.append((b"CDTWRITE" if op.write else b"CDTREAD", (a[i + 1], op)))  # type: ignore[arg-type]
            i = j
            continue
        n = OP_ARITY.get(name)
        if n is None or i + 1 + n > len(a):
            raise RecordError(
                ResultCode.PARAMETER,
                f"unknown or incomplete operation '{a[i].decode('utf-8', 'replace')}'",
            )
        ops.append((name, a[i + 1 : i + 1 + n]))
        i += 1 + n
    if not ops:
        raise RedisError(SYNTAX)
    return ops


def _incr(old: Any, delta: bytes) -> Any:
    step: Any = to_bin(delta)
    if step.__class__ is bytes:
        try:
            step = float(step)
        except ValueError:
            raise RecordError(ResultCode.PARAMETER, "INCR needs an integer or a float") from None
    if old is None:
        return step
    if old.__class__ not in (int, float):
        raise RecordError(ResultCode.INCOMPATIBLE_TYPE, "INCR on a bin that is not a number")
    if old.__class__ is not step.__class__:
        raise RecordError(ResultCode.INCOMPATIBLE_TYPE, "INCR mixes integer and float")
    result = old + step
    if result.__class__ is int and not -(1 << 63) <= result < 1 << 63:
        raise RecordError(ResultCode.PARAMETER, "INCR overflows a 64-bit integer")
    return result


def _concat(old: Any, data: bytes, append: bool) -> bytes:
    if old is None:
        return data
    if old.__class__ is int:
        old = b"%d" % old
    if old.__class__ is not bytes:
        raise RecordError(
            ResultCode.INCOMPATIBLE_TYPE, "APPEND/PREPEND on a bin that is not a string"
        )
    return old + data if append else data + old


def run_ops(ns: Namespace, bins: dict, ops: list[tuple[bytes, list[bytes]]]) -> tuple[list, bool]:
    """Apply ops to a copy of the bins in order; returns (results, touched)."""
    results: list[Any] = []
    touched = False
    for name, args in ops:
        result = None
        if name == b"READ":
            result = bins.get(args[0])
        elif name == b"READALL":
            result = dict(bins)
        elif name == b"WRITE":
            bins[args[0]] = to_bin(args[1])
        elif name == b"WRITEJSON":
            value = _json_bins(b'{"v": %s}' % args[1])[b"v"]
            if value is None:
                bins.pop(args[0], None)
            else:
                bins[args[0]] = value
        elif name == b"INCR":
            bins[args[0]] = _incr(bins.get(args[0]), args[1])
        elif name in (b"APPEND", b"PREPEND"):
            bins[args[0]] = _concat(bins.get(args[0]), args[1], name == b"APPEND")
        elif name == b"DELETE":
            bins.pop(args[0], None)
        elif name == b"TOUCH":
            touched = True
        elif name in (b"CDTREAD", b"CDTWRITE"):
            result = run_cdt(bins, *args)
        results.append(result)
    return results, touched


@command(
    "as.operate",
    -4,
    "write denyoom",
    (1, 1, 1),
    G,
    "Applies several operations to one record atomically (READ, READALL, WRITE, WRITEJSON, INCR, APPEND, PREPEND, DELETE bin, TOUCH).",
    f"key {POLICY_ARGS} OPS op...",
    since="0.1.0",
    example="AS.OPERATE test:users:42 GEN 3 OPS INCR visits 1 READ visits",
)
def as_operate(c, a):
    key = a[1]
    policy, i = parse_policy(a, 2, (b"OPS",))
    if i >= len(a):
        raise RedisError(SYNTAX)
    ops = parse_ops(a, i + 1)
    ns, rec = _record(c, key)
    writes = any(name not in (b"READ", b"READALL", b"CDTREAD") for name, _ in ops)
    if not writes:
        rec = _must_exist(rec)
    check_policy(policy, rec)
    if rec is None and policy.exists not in ("UPDATE", "REPLACE", "CREATE_ONLY"):
        raise RecordError(ResultCode.KEY_NOT_FOUND, "key not found")
    bins = {} if rec is None else dict(rec.bins())
    results, touched = run_ops(ns, bins, ops)
    if writes:
        ttl = policy.ttl if not (touched and policy.ttl == -2) else 0
        with commit_level(c, policy):
            rec = commit_bins(ns, key, rec, bins, void_for(ns, ttl))
        if (
            rec is not None
            and rec.kind == LIST
            and any(n == b"CDTWRITE" and o[1].adds for n, o in ops)
        ):
            pushed(c, key)
    reply: dict[str, Any] = {"results": results}
    if rec is not None:
        reply.update(
            {
                k: v
                for k, v in meta(ns, key, rec).items()
                if k in ("generation", "ttl", "last_update_time")
            }
        )
    return encode(reply, c.proto)


def run_cdt(bins: dict, name: bytes, op: cdt_ops.Op) -> Any:
    """One list or map operation on a bin of `bins` (a copy of the record's bins)."""
    old = bins.get(name)
    result, new = cdt_ops.apply(op, old)
    if op.write and new is not old:
        if new is None:
            bins.pop(name, None)
        else:
            bins[name] = new
    return result


CDT_MODIFIERS = "[RETURN type] [INVERTED] [ORDER order] [UNIQUE] [BOUNDED] [NOFAIL] [PARTIAL] [CREATE_ONLY|UPDATE_ONLY] [JSON]"


def _cdt_command(c, a, kind: str) -> bytes:
    key, name = a[1], a[2]
    op, i = cdt_ops.parse(kind, a, 3)
    if i != len(a):
        raise RecordError(
            ResultCode.PARAMETER,
            f"unexpected argument '{a[i].decode('utf-8', 'replace')}' after the {kind} operation",
        )
    ns, rec = _record(c, key)
    if rec is None and not op.write:
        raise RecordError(ResultCode.KEY_NOT_FOUND, "key not found")
    bins = {} if rec is None else dict(rec.bins())
    result = run_cdt(bins, name, op)
    if op.write and (rec is not None or bins):
        rec = commit_bins(ns, key, rec, bins, KEEP)
        if rec is not None and rec.kind == LIST and op.adds:
            pushed(c, key)
    return encode(result, c.proto)


@command(
    "as.list",
    -4,
    "write denyoom",
    (1, 1, 1),
    G,
    "Applies one list operation to a bin atomically (append, insert, set, pop, remove, trim, clear, increment, sort, size, get/remove by index, rank, value, value list, value interval).",
    f"key bin operation {CDT_MODIFIERS} arg...",
    since="0.1.0",
    complexity="O(N) in the list's size",
    example="AS.LIST test:q list GET_BY_RANK_RANGE RETURN VALUE -3",
)
def as_list(c, a):
    return _cdt_command(c, a, "list")


@command(
    "as.map",
    -4,
    "write denyoom",
    (1, 1, 1),
    G,
    "Applies one map operation to a bin atomically (put, put items, increment, decrement, clear, size, get/remove by key, key list, key interval, index, rank, value, value list, value interval).",
    f"key bin operation {CDT_MODIFIERS} arg...",
    since="0.1.0",
    complexity="O(N log N) in the map's size",
    example="AS.MAP test:board zset GET_BY_RANK_RANGE RETURN KEY_VALUE -3",
)
def as_map(c, a):
    return _cdt_command(c, a, "map")


# --- namespaces, sets, scans, truncation -----------------------------------------------


def _namespace(c, name: bytes) -> Namespace:
    ns = c.engine.by_name(name)
    if ns is None:
        raise RecordError(
            ResultCode.NAMESPACE, f"namespace '{name.decode('utf-8', 'replace')}' is not configured"
        )
    return ns


@command(
    "as.namespaces",
    1,
    "readonly",
    (0, 0, 0),
    G,
    "Lists namespaces with their object counts and memory use.",
    "",
    since="0.1.0",
    example="AS.NAMESPACES",
)
def as_namespaces(c, a):
    return encode(
        {
            ns.name: {
                "objects": ns.count(),
                "sets": len(ns.set_objects),
                "memory_used_bytes": ns.used_bytes,
                "storage_engine": ns.config["storage-engine"],
                "replication_factor": ns.config["replication-factor"],
            }
            for ns in c.engine.namespaces.values()
        },
        c.proto,
    )


@command(
    "as.sets",
    -1,
    "readonly",
    (0, 0, 0),
    G,
    "Lists the sets of one or every namespace with their object counts.",
    "[namespace]",
    since="0.1.0",
    example="AS.SETS test",
)
def as_sets(c, a):
    spaces = [_namespace(c, a[1])] if len(a) > 1 else list(c.engine.namespaces.values())
    if len(a) > 2:
        raise RedisError(SYNTAX)
    return encode(
        {
            f"{ns.name}:{s.decode('utf-8', 'replace')}": {"objects": n}
            for ns in spaces
            for s, n in sorted(ns.set_objects.items())
        },
        c.proto,
    )


@command(
    "as.scan",
    -2,
    "readonly",
    (0, 0, 0),
    G,
    "Scans a namespace or one of its sets, partition by partition, returning records with their bins.",
    "namespace [SET set] [CURSOR cursor:integer] [COUNT count:integer] [NOBINS]",
    since="0.1.0",
    complexity="O(N) for a full scan",
    example="AS.SCAN test SET users COUNT 100",
)
def as_scan(c, a):
    ns = _namespace(c, a[1])
    setname, cursor, count, nobins = None, 0, 10, False
    i = 2
    while i < len(a):
        opt = a[i].upper()
        if opt == b"NOBINS":
            nobins, i = True, i + 1
            continue
        if i + 1 >= len(a):
            raise RedisError(SYNTAX)
        if opt == b"SET":
            setname = a[i + 1]
        elif opt == b"CURSOR":
            cursor = to_int(a[i + 1])
        elif opt == b"COUNT":
            count = max(1, to_int(a[i + 1]))
        else:
            raise RedisError(SYNTAX)
        i += 2
    if setname is None:
        accept = None
    else:

        def accept(key, rec):
            return split_key(key, ns.namespaces)[1] == setname

    cursor, keys = ns.scan(cursor, count, accept)
    records = []
    for key in keys:
        rec = ns.get(key)
        if rec is not None:
            item = meta(ns, key, rec)
            if not nobins:
                item["bins"] = dict(rec.bins())
            records.append(item)
    return encode([b"%d" % cursor, records], c.proto)


@command(
    "as.truncate",
    -2,
    "write admin",
    (0, 0, 0),
    G,
    "Deletes every record of a namespace or set last updated before now (or before a time in ms).",
    "namespace [set] [BEFORE lut-ms:integer]",
    since="0.1.0",
    example="AS.TRUNCATE test users",
)
def as_truncate(c, a):
    ns = _namespace(c, a[1])
    setname, before = None, None
    rest = a[2:]
    if len(rest) >= 2 and rest[-2].upper() == b"BEFORE":
        before = to_int(rest[-1])
        rest = rest[:-2]
    if len(rest) > 1:
        raise RedisError(SYNTAX)
    if rest:
        setname = rest[0]
    return after(c.server.node.truncate(ns, setname, before, everywhere=not c.proxied), OK)
