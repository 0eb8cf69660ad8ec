"""EVAL, EVALSHA, SCRIPT, FUNCTION and FCALL (Redis 7), on respike/scripting/scripts.py.

A script runs in one event-loop step, so nothing else runs on the node meanwhile (the
atomicity Redis gives); its `redis.call`s run the commands' own handlers on this
connection and their replies come back as Lua values. Writes a script makes go through
the usual write path, so its reply waits for every acknowledgement they need (device
sync, replicas) before it is sent, as any write's does. Past busy-reply-threshold the
other connections are answered BUSY from the script's count hook (resp/busy.py).
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

import msgpack

from ...errors import (
    FUNCTION_FLUSH_OPTION,
    FUNCTION_NOT_FOUND,
    FUNCTION_PAYLOAD_BAD,
    FUNCTION_RESTORE_POLICY,
    FUNCTION_RO_WRITE,
    LIBRARY_NAME_MISSING,
    LIBRARY_NOT_FOUND,
    NOSCRIPT,
    NOT_INTEGER,
    NOTBUSY,
    NUMKEYS_NEGATIVE,
    NUMKEYS_TOO_MANY,
    SCRIPT_CALL_DEFERRED,
    SCRIPT_CALL_NOT_RUNNING,
    SCRIPT_DEBUG_OPTION,
    SCRIPT_FLUSH_OPTION,
    SCRIPT_NO_CLUSTER,
    SCRIPT_NO_DEBUGGER,
    SCRIPT_NON_LOCAL_KEY,
    SCRIPT_NOT_ALLOWED,
    SCRIPT_UNKNOWN_COMMAND,
    SCRIPT_WRITE_READONLY,
    SCRIPT_WRONG_ARITY,
    SYNTAX,
    UNKILLABLE,
    RedisError,
    busy_error,
)
from ...scripting import scripts
from ...scripting.scripts import (
    FUNCTIONS,
    CallError,
    Function,
    Running,
    Script,
    Scripting,
    sha1hex,
)
from ..busy import adopt, serve_others
from ..encode import OK, Status, encode, error
from ..table import command, container, help_reply
from .args import glob_matcher, to_int

if TYPE_CHECKING:
    from ..client import Client

G = "scripting"
_DUMP_MAGIC = b"RESPIKE-FUNCTIONS\x01"


def _scripting(c) -> Scripting:
    return c.server.node.scripts


def _numkeys(args: list[bytes], at: int) -> list[int]:
    """Key positions of `... numkeys key... arg...` (COMMAND GETKEYS, cluster routing)."""
    try:
        n = int(args[at])
    except (ValueError, IndexError):
        return []
    if n <= 0 or at + n >= len(args):
        return []
    return list(range(at + 1, at + 1 + n))


def _script_keys(args: list[bytes]) -> list[int]:
    return _numkeys(args, 2)


_DIGITS = {b"%d" % i: i for i in range(10)}  # the usual numkeys, without parsing


def _numkeys_of(a: list[bytes], at: int) -> int:
    """The numkeys of `... numkeys key... arg...`, checked as Redis does (the keys and
    arguments follow it: the script gets them in one piece, see Scripting.run)."""
    n = _DIGITS.get(a[at])
    if n is None:
        try:
            n = to_int(a[at])
        except RedisError:
            raise RedisError(NOT_INTEGER) from None
    if n < 0:
        raise RedisError(NUMKEYS_NEGATIVE)
    if n > len(a) - at - 1:
        raise RedisError(NUMKEYS_TOO_MANY)
    return n


# --- redis.call ---------------------------------------------------------------------------


class _Entry:
    """What running one command from a script needs, read once from its declaration:
    compiled, these fields are C struct members, the declaration's are attribute lookups."""

    def __init__(self, cmd: Any) -> None:
        self.cmd = cmd
        self.handler: Callable[..., Any] = cmd.handler
        self.arity: int = cmd.arity
        self.min_args: int = cmd.min_args
        self.write: bool = cmd.write
        self.keyed: bool = cmd.keyed


class Caller(scripts.Caller):
    """Runs a script's `redis.call`s on its connection: the command's own handler, its
    reply turned back into Lua values (Redis's conversion rules, in the script's
    protocol). One per node, bound into the runtime at the first script; `begin` points
    it at the connection and the script that run now."""

    def __init__(self, scripting: Scripting, table: Any):
        self.c: Client | None = None
        self.readonly = False
        self.running: Running | None = None
        self.scripting = scripting
        self.table = table
        self.route: Any = None
        # Commands a script may run that have no subcommands, by their spelling: the
        # checks that hold for every call of them made once.
        self.plain: dict[bytes, _Entry] = {}
        self.on_busy = self._serve_others  # bound once, handed to every Running

    def begin(self, c: Client, readonly: bool, running: Running) -> None:
        self.c, self.readonly, self.running, self.resp = c, readonly, running, 2
        self.route = c.server.route

    def _serve_others(self) -> None:
        """The count hook's look at the other connections while a script is busy."""
        c, running = self.c, self.running
        if c is not None and running is not None:
            serve_others(c.server, c, running.is_function, _busy_commands(self.scripting))

    def execute(self, argv: list[bytes]) -> Any:
        c = self.c
        if c is None:
            return _NOT_RUNNING
        entry = self.plain.get(argv[0])
        if entry is not None:
            argc = len(argv)
            if argc != entry.arity and (entry.arity > 0 or argc < entry.min_args):
                return _ARITY
            cmd, handler, write, keyed = entry.cmd, entry.handler, entry.write, entry.keyed
        else:
            found = self._allowed(c, argv)
            if found.__class__ is CallError:
                return found
            cmd, write = found
            handler, keyed = cmd.handler, cmd.keyed
        if write:
            if self.readonly:
                return _WRITE_READONLY
            self.running.wrote = True  # type: ignore[union-attr]
        if keyed and self.route is not None and not self._local(cmd, argv):
            return _NON_LOCAL
        c.proto = self.resp
        cmd.calls += 1
        try:
            reply = handler(c, argv)
        except Exception as exc:
            reply = c._failed(cmd, exc, argv)
        notifier = c.server.notifier
        if notifier is not None:  # the command's keyspace events, as Redis
            notifier.command_done(cmd.name, argv)
        if reply.__class__ is not bytes:
            _discard(reply)
            return _DEFERRED
        first = reply[0]
        if first == 36:  # $: the most common reply, without a parser
            if reply[1] == 45:
                return False
            return reply[reply.index(b"\n") + 1 : -2]
        if first == 58:  # :
            return int(reply[1:-2])
        return self._value(reply)

    def _allowed(self, c: Client, argv: list[bytes]) -> Any:
        """(command, whether it writes) of a command a script may run, or the error;
        remembered in `plain` for a command without subcommands."""
        cmd = c.commands.get(argv[0]) or self.table.lookup(argv[0])
        if cmd is None:
            return _UNKNOWN
        argc = len(argv)
        if argc != cmd.arity and (cmd.arity > 0 or argc < cmd.min_args):
            return _ARITY
        spec = self.table.resolve(argv) if cmd.subcommands else cmd
        if spec is None or "noscript" in spec.flags or "noscript" in cmd.flags:
            return _NOT_ALLOWED
        if spec is cmd and len(self.plain) < 256:
            self.plain[argv[0]] = _Entry(cmd)
        return cmd, cmd.write or spec.write

    def _local(self, cmd, args: list[bytes]) -> bool:
        """Whether every key the command names is mastered here (a script runs where its
        declared keys are; it cannot reach other partitions, as in Redis Cluster)."""
        decision = self.route(self.c, cmd, args)  # type: ignore[misc]
        if decision is None:
            return True
        _discard(decision)
        return False

    def _value(self, reply: bytes) -> Any:
        first = reply[0]
        if first == 43:  # +
            return self.to_table({b"ok": reply[1:-2]})
        if first == 45:  # -
            return CallError(reply[1:-2])
        value = parse_reply(reply)
        if value.__class__ is list or value.__class__ is dict:
            return self.to_table(value, recursive=True)
        return value


_UNKNOWN = CallError(SCRIPT_UNKNOWN_COMMAND.encode())
_ARITY = CallError(SCRIPT_WRONG_ARITY.encode())
_NOT_ALLOWED = CallError(SCRIPT_NOT_ALLOWED.encode())
_WRITE_READONLY = CallError(SCRIPT_WRITE_READONLY.encode())
_NON_LOCAL = CallError(SCRIPT_NON_LOCAL_KEY.encode())
_DEFERRED = CallError(SCRIPT_CALL_DEFERRED.encode())
_NOT_RUNNING = CallError(SCRIPT_CALL_NOT_RUNNING.encode())


def _discard(reply: Any) -> None:
    close = getattr(reply, "close", None) or getattr(reply, "cancel", None)
    if close is not None:
        close()


def parse_reply(data: bytes) -> Any:
    """A RESP reply as the values Redis gives a script (lists and dicts become tables)."""
    return _parse(data, 0)[0]


def _parse(data: bytes, pos: int) -> tuple[Any, int]:
    kind = data[pos]
    end = data.index(b"\r\n", pos)
    line = data[pos + 1 : end]
    nxt = end + 2
    if kind == 36 or kind == 61:  # $ bulk, = verbatim
        n = int(line)
        if n < 0:
            return False, nxt
        body = data[nxt : nxt + n]
        if kind == 61:
            return {b"verbatim_string": {b"format": body[:3], b"string": body[4:]}}, nxt + n + 2
        return body, nxt + n + 2
    if kind == 58:
        return int(line), nxt
    if kind == 42 or kind == 126 or kind == 37 or kind == 62:  # * array, ~ set, % map, > push
        n = int(line)
        if n < 0:
            return False, nxt
        items = []
        for _ in range(2 * n if kind == 37 else n):
            item, nxt = _parse(data, nxt)
            items.append(item)
        if kind == 126:
            return {b"set": {_key(m): True for m in items}}, nxt
        if kind == 37:
            return {b"map": {_key(k): v for k, v in zip(items[::2], items[1::2], strict=True)}}, nxt
        return items, nxt
    if kind == 43:
        return {b"ok": line}, nxt
    if kind == 45:
        return {b"err": line}, nxt
    if kind == 44:
        return {b"double": float(line)}, nxt
    if kind == 95:
        return None, nxt
    if kind == 35:
        return line == b"t", nxt
    if kind == 40:
        return {b"big_number": line}, nxt
    if kind == 124:  # | attributes: skipped, the value follows
        _, nxt = _parse(b"%" + data[pos + 1 :], 0)
        return _parse(data, pos + nxt)
    raise ValueError(f"unexpected reply type {chr(kind)!r}")


def _key(value: Any) -> Any:
    return value if isinstance(value, bytes | int | float | bool) else repr(value).encode()


# --- running --------------------------------------------------------------------------


def _run(
    c: Client, target: Script | Function, nkeys: int, readonly: bool, name: str, args
) -> bytes:
    scripting = _scripting(c)
    is_function = isinstance(target, Function)
    server = c.server
    if server.route is not None and "no-cluster" in target.flags:
        raise RedisError(SCRIPT_NO_CLUSTER)
    bound = scripting.caller
    if bound is None:
        caller = Caller(scripting, server.table)
        scripting.bind(caller)
    else:  # (typed as this Caller: compiled, its attributes are then struct members)
        caller = cast(Caller, bound)
    running = Running(
        name,
        args,
        is_function,
        time.monotonic(),
        server.node_config["busy-reply-threshold"],
        caller.on_busy,
    )
    caller.begin(c, readonly or "no-writes" in target.flags, running)
    proto, in_exec = c.proto, c.in_exec
    c.in_exec = True  # blocking commands answer at once, as in EXEC
    try:
        out = scripting.run(target, proto, nkeys, args[3:], running)
    finally:
        c.proto, c.in_exec = proto, in_exec
        caller.c = caller.running = None
        if running.busy:
            adopt(server)
    usec = int((time.monotonic() - running.started) * 1_000_000)
    if usec >= server.slowlog_threshold >= 0:  # (see table.SELF_LOGGED)
        server.slowlog.add(usec, args, c.addr, c.name, server.node_config["slowlog-max-len"])
    if out.__class__ is bytes:
        return out  # type: ignore[return-value]
    return error(out.text.decode("utf-8", "replace"))  # type: ignore[union-attr]


def _busy_commands(scripting: Scripting) -> dict:
    def kill(c: Client, a: list[bytes]) -> bytes:
        running = scripting.running
        if running is None:
            return error(NOTBUSY)
        if running.wrote:
            return error(UNKILLABLE)
        wanted = a[0].lower() == b"function"
        if wanted != running.is_function:
            return error(busy_error(running.is_function))  # the other KILL is the one
        running.killed = True
        return OK

    def shutdown(c: Client, a: list[bytes]) -> bytes:
        if any(x.lower() == b"nosave" for x in a[1:]):
            os._exit(0)  # SHUTDOWN NOSAVE while busy: stop at once, as Redis does
        return error(busy_error(scripting.running is not None and scripting.running.is_function))

    def stats(c: Any, a: list[bytes]) -> bytes:
        return _stats(scripting, getattr(c, "proto", 2))  # (a newcomer speaks RESP2)

    return {
        ("script", "kill"): kill,
        ("function", "kill"): kill,
        ("function", "stats"): stats,
        ("shutdown", ""): shutdown,
    }


# --- EVAL -----------------------------------------------------------------------------


def _eval(c, a, readonly: bool) -> bytes:
    script = _scripting(c).load(a[1])
    return _run(c, script, _numkeys_of(a, 2), readonly, script.sha, a)


def _evalsha(c, a, readonly: bool) -> bytes:
    by_sha = c.server.node.scripts.by_sha
    script = by_sha.get(a[1]) or by_sha.get(a[1].lower())
    if script is None:
        raise RedisError(NOSCRIPT)
    return _run(c, script, _numkeys_of(a, 2), readonly, script.sha, a)


_EVAL_ARGS = "script numkeys:integer [key [key ...]] [arg [arg ...]]"


@command(
    "eval",
    -3,
    "noscript stale skip_monitor may_replicate no_mandatory_keys movablekeys",
    (0, 0, 0),
    G,
    "Executes a server-side Lua script.",
    _EVAL_ARGS,
    since="2.6.0",
    complexity="Depends on the script that is executed.",
    example="EVAL \"return redis.call('incr', KEYS[1])\" 1 counter",
    getkeys=_script_keys,
)
def eval_(c, a):
    return _eval(c, a, False)


@command(
    "eval_ro",
    -3,
    "readonly noscript stale skip_monitor no_mandatory_keys movablekeys",
    (0, 0, 0),
    G,
    "Executes a read-only server-side Lua script.",
    _EVAL_ARGS,
    since="7.0.0",
    complexity="Depends on the script that is executed.",
    example="EVAL_RO \"return redis.call('get', KEYS[1])\" 1 counter",
    getkeys=_script_keys,
)
def eval_ro(c, a):
    return _eval(c, a, True)


@command(
    "evalsha",
    -3,
    "noscript stale skip_monitor may_replicate no_mandatory_keys movablekeys",
    (0, 0, 0),
    G,
    "Executes a server-side Lua script by SHA1 digest.",
    "sha1 numkeys:integer [key [key ...]] [arg [arg ...]]",
    since="2.6.0",
    complexity="Depends on the script that is executed.",
    example="EVALSHA 8b5a0ae... 1 counter",
    getkeys=_script_keys,
)
def evalsha(c, a):
    return _evalsha(c, a, False)


@command(
    "evalsha_ro",
    -3,
    "readonly noscript stale skip_monitor no_mandatory_keys movablekeys",
    (0, 0, 0),
    G,
    "Executes a read-only server-side Lua script by SHA1 digest.",
    "sha1 numkeys:integer [key [key ...]] [arg [arg ...]]",
    since="7.0.0",
    complexity="Depends on the script that is executed.",
    example="EVALSHA_RO 8b5a0ae... 1 counter",
    getkeys=_script_keys,
)
def evalsha_ro(c, a):
    return _evalsha(c, a, True)


# --- SCRIPT ---------------------------------------------------------------------------

SCRIPT = container("script", G, "A container for Lua scripts management commands.", "2.6.0")


@command(
    "script|load",
    3,
    "noscript stale",
    (0, 0, 0),
    G,
    "Loads a server-side Lua script to the script cache.",
    "script",
    since="2.6.0",
    complexity="O(N) with N being the length in bytes of the script body.",
    example='SCRIPT LOAD "return 1"',
)
def script_load(c, a):
    reply = encode(_scripting(c).load(a[2]).sha.encode(), c.proto)
    cluster = c.server.node.cluster
    if c.proxied or cluster is None or not cluster.active:
        return reply
    # Cluster clients send SCRIPT LOAD to the nodes they take for primaries, but every
    # respike node masters slots and redis-py takes some for replicas (CLUSTER SLOTS lists
    # each as a replica of other ranges): load it on every member, so an EVALSHA reaches
    # the script wherever the key's master is.
    remote = cluster.broadcast([b"SCRIPT", b"LOAD", a[2]])
    return reply if remote is None else _after_all(remote, reply)


async def _after_all(remote, reply: bytes) -> bytes:
    """`reply` once every member answered; a member that failed answers NOSCRIPT later,
    and the client loads the script again."""
    await asyncio.gather(remote, return_exceptions=True)
    return reply


@command(
    "script|exists",
    -3,
    "noscript",
    (0, 0, 0),
    G,
    "Determines whether server-side Lua scripts exist in the script cache.",
    "sha1...",
    since="2.6.0",
    complexity="O(N) with N being the number of scripts to check.",
    example="SCRIPT EXISTS 8b5a0ae...",
)
def script_exists(c, a):
    scripts = _scripting(c).scripts
    return encode([int(s.decode("utf-8", "replace").lower() in scripts) for s in a[2:]], c.proto)


@command(
    "script|flush",
    -2,
    "noscript",
    (0, 0, 0),
    G,
    "Removes all server-side Lua scripts from the script cache.",
    "[ASYNC|SYNC]",
    since="2.6.0",
    complexity="O(N) with N being the number of scripts in cache",
    example="SCRIPT FLUSH",
)
def script_flush(c, a):
    if len(a) > 3 or (len(a) == 3 and a[2].upper() not in (b"ASYNC", b"SYNC")):
        raise RedisError(SCRIPT_FLUSH_OPTION)
    _scripting(c).flush_scripts()
    return OK


@command(
    "script|kill",
    2,
    "noscript allow_busy",
    (0, 0, 0),
    G,
    "Terminates a server-side Lua script during execution (while another connection's "
    "script is busy; see busy-reply-threshold).",
    "",
    since="2.6.0",
    example="SCRIPT KILL",
)
def script_kill(c, a):
    raise RedisError(NOTBUSY)  # a script that runs holds the node: this runs only when none does


@command(
    "script|debug",
    3,
    "noscript",
    (0, 0, 0),
    G,
    "Sets the debug mode of server-side Lua scripts (respike has no Lua debugger: NO only).",
    "YES|SYNC|NO",
    since="3.2.0",
    example="SCRIPT DEBUG NO",
)
def script_debug(c, a):
    mode = a[2].upper()
    if mode == b"NO":
        return OK
    if mode in (b"YES", b"SYNC"):
        raise RedisError(SCRIPT_NO_DEBUGGER)
    raise RedisError(SCRIPT_DEBUG_OPTION)


@command(
    "script|help",
    2,
    "loading stale",
    (0, 0, 0),
    G,
    "Returns helpful text about the different subcommands.",
    "",
    since="5.0.0",
    example="SCRIPT HELP",
)
def script_help(c, a):
    return help_reply(c, SCRIPT)


# --- FUNCTION and FCALL -----------------------------------------------------------------


def _fcall(c, a, readonly: bool) -> bytes:
    name = a[1].decode("utf-8", "replace")
    fn = _scripting(c).functions.get(name)
    if fn is None:
        raise RedisError(FUNCTION_NOT_FOUND)
    if readonly and "no-writes" not in fn.flags:
        raise RedisError(FUNCTION_RO_WRITE)
    return _run(c, fn, _numkeys_of(a, 2), readonly, name, a)


@command(
    "fcall",
    -3,
    "noscript stale skip_monitor may_replicate no_mandatory_keys movablekeys",
    (0, 0, 0),
    G,
    "Invokes a function.",
    "function numkeys:integer [key [key ...]] [arg [arg ...]]",
    since="7.0.0",
    complexity="Depends on the function that is executed.",
    example="FCALL myfunc 1 counter",
    getkeys=_script_keys,
)
def fcall(c, a):
    return _fcall(c, a, False)


@command(
    "fcall_ro",
    -3,
    "readonly noscript stale skip_monitor no_mandatory_keys movablekeys",
    (0, 0, 0),
    G,
    "Invokes a read-only function.",
    "function numkeys:integer [key [key ...]] [arg [arg ...]]",
    since="7.0.0",
    complexity="Depends on the function that is executed.",
    example="FCALL_RO myfunc 1 counter",
    getkeys=_script_keys,
)
def fcall_ro(c, a):
    return _fcall(c, a, True)


FUNCTION = container("function", G, "A container for function commands.", since="7.0.0")


@command(
    "function|load",
    -3,
    "write denyoom noscript",
    (0, 0, 0),
    G,
    "Creates a library (kept in system metadata: every node of the cluster gets it).",
    "[REPLACE] function-code",
    since="7.0.0",
    complexity="O(1) (considering compilation time is redundant)",
    example="FUNCTION LOAD \"#!lua name=mylib\\n redis.register_function('f', function() return 1 end)\"",
)
def function_load(c, a):
    if len(a) == 4 and a[2].upper() != b"REPLACE":
        raise RedisError(f"ERR Unknown option given: {a[2].decode('utf-8', 'replace')}")
    if len(a) > 4:
        raise RedisError(SYNTAX)
    replace = len(a) == 4
    scripting = _scripting(c)
    library = scripting.compile_library(a[-1])
    scripting.check_new(library, replace)
    c.server.node.catalog.set(FUNCTIONS, library.name, library.code)
    return encode(library.name.encode(), c.proto)


@command(
    "function|delete",
    3,
    "write noscript",
    (0, 0, 0),
    G,
    "Deletes a library and its functions.",
    "library-name",
    since="7.0.0",
    example="FUNCTION DELETE mylib",
)
def function_delete(c, a):
    name = a[2].decode("utf-8", "replace")
    if name not in _scripting(c).libraries:
        raise RedisError(LIBRARY_NOT_FOUND)
    c.server.node.catalog.delete(FUNCTIONS, name)
    return OK


@command(
    "function|flush",
    -2,
    "write noscript",
    (0, 0, 0),
    G,
    "Deletes all libraries and functions (on every node of the cluster).",
    "[ASYNC|SYNC]",
    since="7.0.0",
    complexity="O(N) where N is the number of functions deleted",
    example="FUNCTION FLUSH",
)
def function_flush(c, a):
    if len(a) > 3 or (len(a) == 3 and a[2].upper() not in (b"ASYNC", b"SYNC")):
        raise RedisError(FUNCTION_FLUSH_OPTION)
    _flush_functions(c)
    return OK


def _flush_functions(c) -> None:
    catalog = c.server.node.catalog
    for name in list(_scripting(c).libraries):
        catalog.delete(FUNCTIONS, name)


@command(
    "function|list",
    -2,
    "noscript",
    (0, 0, 0),
    G,
    "Returns information about all libraries.",
    "[LIBRARYNAME library-name-pattern] [WITHCODE]",
    since="7.0.0",
    complexity="O(N) where N is the number of functions",
    example="FUNCTION LIST WITHCODE",
)
def function_list(c, a):
    pattern, withcode = None, False
    i = 2
    while i < len(a):
        opt = a[i].upper()
        if opt == b"WITHCODE" and not withcode:
            withcode = True
        elif opt == b"LIBRARYNAME" and pattern is None and i + 1 < len(a):
            i += 1
            pattern = a[i]
        elif opt == b"LIBRARYNAME":
            raise RedisError(LIBRARY_NAME_MISSING)
        else:
            raise RedisError(f"ERR Unknown argument {a[i].decode('utf-8', 'replace')}")
        i += 1
    match = glob_matcher(pattern) if pattern is not None else None
    out = []
    for name, lib in sorted(_scripting(c).libraries.items()):
        if match is not None and not match(name.encode()):
            continue
        entry = {
            Status("library_name"): name.encode(),
            Status("engine"): b"LUA",
            Status("functions"): [
                {
                    Status("name"): fn.name.encode(),
                    Status("description"): fn.description,
                    Status("flags"): [Status(f) for f in sorted(fn.flags)],
                }
                for fn in lib.functions.values()
            ],
        }
        if withcode:
            entry[Status("library_code")] = lib.code
        out.append(entry)
    return encode(out, c.proto)


@command(
    "function|dump",
    2,
    "noscript",
    (0, 0, 0),
    G,
    "Dumps all libraries into a serialized binary payload (respike's own format).",
    "",
    since="7.0.0",
    complexity="O(N) where N is the number of functions",
    example="FUNCTION DUMP",
)
def function_dump(c, a):
    libs = {name: lib.code for name, lib in _scripting(c).libraries.items()}
    body = msgpack.packb(libs, use_bin_type=True)
    return encode(_DUMP_MAGIC + body + sha1hex(body)[:16].encode(), c.proto)


@command(
    "function|restore",
    -3,
    "write denyoom noscript",
    (0, 0, 0),
    G,
    "Restores all libraries from a payload of FUNCTION DUMP.",
    "serialized-value [FLUSH|APPEND|REPLACE]",
    since="7.0.0",
    complexity="O(N) where N is the number of functions on the payload",
    example="FUNCTION RESTORE <payload> REPLACE",
)
def function_restore(c, a):
    policy = a[3].upper() if len(a) > 3 else b"APPEND"
    if len(a) > 4 or policy not in (b"FLUSH", b"APPEND", b"REPLACE"):
        raise RedisError(FUNCTION_RESTORE_POLICY)
    payload = a[2]
    body, check = payload[len(_DUMP_MAGIC) : -16], payload[-16:]
    if not payload.startswith(_DUMP_MAGIC) or sha1hex(body)[:16].encode() != check:
        raise RedisError(FUNCTION_PAYLOAD_BAD)
    scripting = _scripting(c)
    libraries = [scripting.compile_library(code) for code in msgpack.unpackb(body).values()]
    if policy != b"FLUSH":
        for lib in libraries:
            if policy == b"APPEND" and lib.name in scripting.libraries:
                raise RedisError(f"ERR Library {lib.name} already exists")
            scripting.check_new(lib, replace=policy == b"REPLACE")
    else:
        _flush_functions(c)
    for lib in libraries:
        c.server.node.catalog.set(FUNCTIONS, lib.name, lib.code)
    return OK


@command(
    "function|stats",
    2,
    "noscript allow_busy",
    (0, 0, 0),
    G,
    "Returns information about a function during execution.",
    "",
    since="7.0.0",
    example="FUNCTION STATS",
)
def function_stats(c, a):
    return _stats(_scripting(c), c.proto)


def _stats(scripting: Scripting, proto: int) -> bytes:
    """FUNCTION STATS: what runs now (answered while a script is busy, as Redis does) and
    the libraries."""
    running = scripting.running
    now: dict[Any, Any] | None = None
    if running is not None:
        now = {
            Status("name"): running.name.encode(),
            Status("command"): running.command,
            Status("duration_ms"): int((time.monotonic() - running.started) * 1000),
        }
    return encode(
        {
            Status("running_script"): now,
            Status("engines"): {
                Status("LUA"): {
                    Status("libraries_count"): len(scripting.libraries),
                    Status("functions_count"): len(scripting.functions),
                }
            },
        },
        proto,
    )


@command(
    "function|kill",
    2,
    "noscript allow_busy",
    (0, 0, 0),
    G,
    "Terminates a function during execution (while it is busy; see busy-reply-threshold).",
    "",
    since="7.0.0",
    example="FUNCTION KILL",
)
def function_kill(c, a):
    raise RedisError(NOTBUSY)


@command(
    "function|help",
    2,
    "loading stale",
    (0, 0, 0),
    G,
    "Returns helpful text about the different subcommands.",
    "",
    since="7.0.0",
    example="FUNCTION HELP",
)
def function_help(c, a):
    return help_reply(c, FUNCTION)
