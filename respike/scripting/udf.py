"""Aerospike record UDFs on the embedded Lua 5.1: the modules registered with `AS.UDF`
(kept in the system-metadata catalog) and one call of one of their functions on a record.

A call sees the record through Aerospike's record API (aerospike.lua) and changes only a
copy of its bins. What it asked for — `aerospike:create`/`update` (write the bins) or
`aerospike:remove` — is returned as an `Outcome` and committed by the caller in one write
through the namespace's usual write path (generation, TTL, limits, replication), and only
if the function returned without an error, as Aerospike applies a UDF's record changes
when it ends.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import lupa.lua51 as lua

from ..engine.catalog import Catalog
from ..engine.record import to_bin
from ..errors import RecordError, ResultCode

log = logging.getLogger("respike.udf")

MODULE = "udf"  # the catalog module holding UDF files (`name.lua` -> source)
HOOK_EVERY = 10_000  # Lua instructions between two checks of the time limit
# aerospike:create / update results (as/src/base/udf_aerospike.c)
CREATED, EXISTS, NOT_OPEN = 0, 1, -2


def udf_error(text: str) -> RecordError:
    return RecordError(ResultCode.UDF_BAD_RESPONSE, text)


@dataclass
class RecordView:
    """What a UDF may read of its record (`exists` False: there is none yet)."""

    bins: dict[bytes, Any]
    exists: bool
    gen: int = 0
    ttl: int = -1  # seconds left; -1 = never expires
    void: int = 0
    lut: int = 0
    digest: bytes = b""
    setname: bytes = b""
    key: bytes = b""


@dataclass
class Outcome:
    """A finished call: its return value and what it asked to happen to the record."""

    value: Any
    write: dict[bytes, Any] | None = None  # the bins to store
    remove: bool = False
    ttl: int | None = None  # record.set_ttl's value (Aerospike TTL: 0 default, -1 never, -2 keep)


@dataclass
class _Call:
    """The Python side of one record handle while a UDF runs."""

    view: RecordView
    bins: dict[bytes, Any]
    exists: bool
    outcome: Outcome = field(default_factory=lambda: Outcome(None))


class UdfModules:
    """The registered modules, compiled once per source into their own environments."""

    def __init__(self, catalog: Catalog, max_memory: int, time_limit_ms: int):
        self.catalog = catalog
        self.time_limit_ms = time_limit_ms
        self.runtime = lua.LuaRuntime(
            encoding=None, register_eval=False, register_builtins=False, max_memory=max_memory
        )
        prelude = resources.files(__package__).joinpath("aerospike.lua").read_bytes()
        g = self.runtime.globals()
        exports = g.loadstring(prelude, b"=aerospike.lua")(_Host(self))
        # (by item: a Lua table's attributes are lupa's own methods, `items` among them)
        self.api = exports[b"api"]
        self.new_record = exports[b"new_record"]
        self.new_list = exports[b"new_list"]
        self.new_map = exports[b"new_map"]
        self.kind = exports[b"kind"]
        self.items = exports[b"items"]
        # The hook must be a Lua function (debug.sethook refuses a Python callable).
        self._arm = self.runtime.eval(
            "function(check, every) debug.sethook(function() check() end, '', every) end"
        )
        self._disarm = g.debug.sethook
        self._load = self.runtime.eval(
            "function(src, name) local f, err = loadstring(src, name) return f, err end"
        )
        self._setfenv = g.setfenv
        self._setmetatable = g.setmetatable
        # A Lua error becomes a value (ok, result), not a Python exception that lost it.
        self._pcall = self.runtime.eval(
            "function(f, ...) local r = {pcall(f, ...)} return r[1], r[2] end"
        )
        self._deadline = 0.0
        g.python = None  # nothing of the Python side is reachable from a module
        self.envs: dict[str, Any] = {}
        catalog.listen(MODULE, self._changed)

    def _changed(self, name: str, source: bytes | None) -> None:
        self.envs.pop(name[:-4] if name.endswith(".lua") else name, None)

    # --- loading -------------------------------------------------------------------------

    def module(self, name: str) -> Any:
        """The module's environment (its globals after its chunk ran)."""
        env = self.envs.get(name)
        if env is not None:
            return env
        source = self.catalog.get(MODULE, name + ".lua")
        if source is None:
            raise udf_error(f"UDF module {name} is not registered")
        chunk, err = self._load(source, b"@" + name.encode() + b".lua")
        if chunk is None:
            raise udf_error(f"UDF module {name} does not compile: {_text(err)}")
        env = self.runtime.table()
        self._setmetatable(env, self.runtime.table_from({b"__index": self.api}))
        self._setfenv(chunk, env)
        self._run(chunk)
        self.envs[name] = env
        return env

    # --- calling -------------------------------------------------------------------------

    def apply(self, module: str, function: str, view: RecordView, args: list[Any]) -> Outcome:
        env = self.module(module)
        fn = env[function.encode()]
        if lua.lua_type(fn) != "function":
            raise udf_error(f"function {function} not found in UDF module {module}")
        call = _Call(view, dict(view.bins), view.exists)
        rec = self.new_record(call)
        value = self._run(fn, rec, *[self.to_lua(a) for a in args])
        outcome = call.outcome
        outcome.value = self.from_lua(value)
        return outcome

    def _run(self, fn: Any, *args: Any) -> Any:
        """Call into Lua with the time limit armed; a Lua error is a UDF_BAD_RESPONSE."""
        self._deadline = time.monotonic() + self.time_limit_ms / 1000
        self._arm(self._check_time, HOOK_EVERY)
        try:
            ok, value = self._pcall(fn, *args)
        except lua.LuaMemoryError:
            raise udf_error("UDF exceeded the Lua memory limit (lua-max-memory)") from None
        finally:
            self._disarm()
        if not ok:
            raise udf_error(_text(value))
        return value

    def _check_time(self, *_: Any) -> None:
        if time.monotonic() > self._deadline:
            self._arm(self._check_time, 1)  # at every instruction now: pcall cannot hide it
            raise udf_error(f"UDF timed out after {self.time_limit_ms} ms (udf-time-limit)")

    # --- values --------------------------------------------------------------------------

    def to_lua(self, value: Any) -> Any:
        if isinstance(value, list):
            return self.new_list(self.runtime.table_from([self.to_lua(v) for v in value]))
        if isinstance(value, dict):
            table = self.runtime.table()
            for k, v in value.items():
                table[self.to_lua(k)] = self.to_lua(v)
            return self.new_map(table)
        return value

    def from_lua(self, value: Any) -> Any:
        kind = self.kind(value)
        if kind in (b"list", b"table", b"map"):
            items, n = self.items(value)
            flat = [self.from_lua(items[i]) for i in range(1, n + 1)]
            if kind == b"list":
                return flat
            pairs = list(zip(flat[::2], flat[1::2], strict=True))
            if kind == b"table" and _is_array([k for k, _ in pairs]):
                return [v for _, v in sorted(pairs, key=lambda kv: kv[0])]
            return dict(pairs)
        if kind in (b"record", b"function", b"userdata", b"thread"):
            raise udf_error(f"a UDF cannot return or store a {_text(kind)}")
        return value


def _is_array(keys: list[Any]) -> bool:
    """A plain Lua table whose keys are 1..n is an array (Aerospike makes it a list)."""
    return all(type(k) is int for k in keys) and sorted(keys) == list(range(1, len(keys) + 1))


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


class _Host:
    """What aerospike.lua calls on the Python side (the record API's body)."""

    def __init__(self, modules: UdfModules):
        self.modules = modules

    def get_bin(self, call: _Call, name: bytes) -> Any:
        return self.modules.to_lua(call.bins.get(name))

    def set_bin(self, call: _Call, name: bytes, value: Any) -> None:
        if not isinstance(name, bytes):
            raise udf_error("bin names are strings")
        value = self.modules.from_lua(value)
        if isinstance(value, bytes):
            value = to_bin(value)  # canonical integers are integer bins, as everywhere
        if value is None:
            call.bins.pop(name, None)
        else:
            call.bins[name] = value

    def log(self, level: int, text: bytes) -> None:
        log.log(
            {1: logging.WARNING, 2: logging.INFO}.get(int(level), logging.DEBUG), "%s", _text(text)
        )

    def record_call(self, call: _Call, name: bytes, *args: Any) -> Any:
        view, out = call.view, call.outcome
        what = name.decode()
        if what == "exists":
            return call.exists
        if what == "create":
            if call.exists:
                return EXISTS
            call.exists, out.write, out.remove = True, call.bins, False
            return CREATED
        if what == "update":
            if not call.exists:
                return NOT_OPEN
            out.write, out.remove = call.bins, False
            return CREATED
        if what == "remove":
            if not call.exists:
                return NOT_OPEN
            call.exists, out.write, out.remove = False, None, True
            call.bins = {}
            return CREATED
        if what == "set_ttl":
            out.ttl = int(args[0]) if args else 0
            return None
        if what in ("drop_key", "set_type"):
            return None  # respike always keeps the key; types follow the bins
        return self._meta(view, call, what)

    def _meta(self, view: RecordView, call: _Call, what: str) -> Any:
        if what == "bin_names":
            return self.modules.to_lua(list(call.bins))
        if what == "numbins":
            return len(call.bins)
        values = {
            "digest": view.digest,
            "gen": view.gen,
            "key": view.key,
            "last_update_time": view.lut,
            "setname": view.setname or None,
            "ttl": view.ttl,
            "void_time": view.void // 1000,
        }
        if what not in values:
            raise udf_error(f"record.{what} is not part of the record API")
        return values[what]
