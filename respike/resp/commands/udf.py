"""Aerospike record UDFs: `AS.UDF` registers Lua modules (kept in the system-metadata
catalog, so every node of the cluster has them, including one that joins later) and
`AS.APPLY` runs one of their functions on a record.

A module is registered by file name (`name.lua`, as Aerospike's `udf-put`); the module
name is the file name without `.lua`. Registration compiles the source first, so a module
that does not compile is refused instead of failing every later call.
"""

from __future__ import annotations

import hashlib

import lupa.lua51 as lua

from ...engine.namespace import KEEP
from ...engine.record import to_bin
from ...keyspace import digest_of, split_key
from ...scripting.udf import MODULE, RecordView, udf_error
from ..encode import OK, encode
from ..table import command, container
from .native import commit_bins, meta, void_for

G = "native"

UDF = container("as.udf", G, "Registers, lists, shows and removes record UDF modules.", "0.1.0")


def file_name(raw: bytes) -> str:
    """A module's file name: `name.lua`, name a Lua identifier-like word."""
    name = raw.decode("utf-8", "replace")
    stem = name[:-4] if name.endswith(".lua") else ""
    if not stem or not all(ch.isalnum() or ch in "_-" for ch in stem):
        raise udf_error(f"invalid UDF file name '{name}' (expected name.lua)")
    return name


def compile_error(source: bytes) -> str | None:
    """Lua's compile error for `source`, None if it compiles (nothing of it runs)."""
    if source[:1] == b"\x1b":
        return "binary (precompiled) chunks are not accepted"
    runtime = lua.LuaRuntime(register_eval=False, register_builtins=False)
    loader = runtime.eval("function(src) local f, err = loadstring(src, '=udf') return err end")
    err = loader(source)
    return None if err is None else str(err)


def _catalog(c):
    return c.server.node.catalog


@command(
    "as.udf|register",
    4,
    "write noscript",
    (0, 0, 0),
    G,
    "Registers (or replaces) a Lua module of record UDFs, on every node of the cluster.",
    "filename source",
    since="0.1.0",
    example='AS.UDF REGISTER counters.lua "function add(rec, bin, n) ... end"',
)
def udf_register(c, a):
    name = file_name(a[2])
    err = compile_error(a[3])
    if err is not None:
        raise udf_error(f"UDF {name} does not compile: {err}")
    _catalog(c).set(MODULE, name, a[3])
    return OK


@command(
    "as.udf|remove",
    3,
    "write noscript",
    (0, 0, 0),
    G,
    "Removes a registered UDF module from every node of the cluster.",
    "filename",
    since="0.1.0",
    example="AS.UDF REMOVE counters.lua",
)
def udf_remove(c, a):
    name = a[2].decode("utf-8", "replace")
    if not _catalog(c).delete(MODULE, name):
        raise udf_error(f"UDF file {name} not found")
    return OK


@command(
    "as.udf|list",
    2,
    "readonly",
    (0, 0, 0),
    G,
    "Lists the registered UDF modules: file name, SHA-1 of the source, type.",
    "",
    since="0.1.0",
    example="AS.UDF LIST",
)
def udf_list(c, a):
    return encode(
        [
            {"filename": name, "hash": hashlib.sha1(src).hexdigest(), "type": "LUA"}
            for name, src in _catalog(c).items(MODULE).items()
        ],
        c.proto,
    )


@command(
    "as.udf|get",
    3,
    "readonly",
    (0, 0, 0),
    G,
    "Returns a registered UDF module's source.",
    "filename",
    since="0.1.0",
    example="AS.UDF GET counters.lua",
)
def udf_get(c, a):
    source = _catalog(c).get(MODULE, a[2].decode("utf-8", "replace"))
    if source is None:
        raise udf_error(f"UDF file {a[2].decode('utf-8', 'replace')} not found")
    return encode(source, c.proto)


@command(
    "as.apply",
    -4,
    "write denyoom",
    (1, 1, 1),
    G,
    "Runs a registered record UDF on one record; its changes are committed as one write.",
    "key module function [arg...]",
    since="0.1.0",
    complexity="Depends on the function",
    example="AS.APPLY test:counters:a counters add hits 1",
)
def as_apply(c, a):
    key = a[1]
    ns = c.engine.namespace_for(key)
    rec = ns.get(key)
    view = RecordView({}, False)
    if rec is not None:
        info = meta(ns, key, rec)
        _, setname, userkey = split_key(key, ns.namespaces)
        view = RecordView(
            dict(rec.bins()),
            True,
            rec.gen,
            info["ttl"],
            rec.void,
            rec.lut,
            digest_of(key),
            setname or b"",
            userkey,
        )
    args = [to_bin(x) for x in a[4:]]
    module = _text(a[2])
    module = module[:-4] if module.endswith(".lua") else module
    outcome = c.server.node.udfs.apply(module, _text(a[3]), view, args)
    if outcome.remove:
        if rec is not None:
            ns.delete(key, rec)
    elif outcome.write is not None:
        void = KEEP if outcome.ttl is None else void_for(ns, outcome.ttl)
        commit_bins(ns, key, rec, outcome.write, void)
    return encode(outcome.value, c.proto)


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", "replace")
