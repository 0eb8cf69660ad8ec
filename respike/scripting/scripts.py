"""EVAL scripts and FUNCTION libraries on one embedded Lua 5.1 runtime (lupa), with
Redis's Lua API (redis.lua) and the libraries Redis bundles (lualibs.py).

This module knows nothing of connections or storage: a running script's `redis.call`
goes to the `Caller` its command handler hands in, which executes the command and
returns the reply as Lua values. Scripts are compiled once per body and kept by SHA1
(the script cache, as Redis's); libraries are kept in the system-metadata catalog
(module "functions"), so every node of a cluster has them, and compiled on each node
as they arrive.
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import lupa.lua51 as lua

from ..engine.catalog import Catalog
from ..errors import (
    FUNCTION_NONE_REGISTERED,
    FUNCTION_UNKNOWN_FLAG,
    LIBRARY_METADATA_MISSING,
    LIBRARY_NAME_NOT_GIVEN,
    SCRIPT_CALL_BAD_ARG,
    SCRIPT_CALL_NO_ARGS,
    SCRIPT_KILLED,
    SCRIPT_NESTED,
    RedisError,
)
from .lualibs import Libraries

log = logging.getLogger("respike.scripts")

FUNCTIONS = "functions"  # the catalog module holding libraries (name -> code)
HOOK_EVERY = 100_000  # Lua instructions between two looks at the clock
# The error a killed script or function ends with (Redis says SCRIPT KILL for both).
KILLED = SCRIPT_KILLED.encode()
SCRIPT_FLAGS = frozenset(
    {"no-writes", "allow-oom", "allow-stale", "no-cluster", "allow-cross-slot-keys"}
)
_NAME = re.compile(rb"^[A-Za-z0-9_]+$")
_LOG_LEVELS = {0: logging.DEBUG, 1: logging.INFO, 2: logging.INFO, 3: logging.WARNING}


class Caller:
    """What runs a script's `redis.call` and `redis.pcall`: one object for the node's
    lifetime, bound into the runtime once (`Scripting.bind`), so a call from Lua is one
    crossing into Python and a frame or two, not an object made per script. The base
    checks and converts the arguments as Redis does and turns an error reply into
    redis.call's raise or redis.pcall's table; `execute` (the connection side) runs the
    command: its reply as Lua values, or a CallError."""

    resp = 2  # the protocol of redis.call's replies (redis.setresp)
    to_table: Callable[..., Any]

    def execute(self, argv: list[bytes]) -> Any:
        """Abstract: the connection side (respike/resp/commands/scripting.py's Caller) runs
        the command; this layer never touches connections."""
        raise NotImplementedError

    def call(self, *args: Any) -> Any:
        argv = command_args(args)
        reply = self.execute(argv) if argv.__class__ is list else argv
        if reply.__class__ is CallError:
            raise ScriptError(reply.text)
        return reply

    def pcall(self, *args: Any) -> Any:
        argv = command_args(args)
        reply = self.execute(argv) if argv.__class__ is list else argv
        if reply.__class__ is CallError:
            return self.to_table({b"err": reply.text})
        return reply


class CallError:
    """A command's error reply, for redis.call to raise or redis.pcall to return."""

    __slots__ = ("text",)

    def __init__(self, text: bytes):
        self.text = text


_NO_ARGS = CallError(SCRIPT_CALL_NO_ARGS.encode())
_BAD_ARG = CallError(SCRIPT_CALL_BAD_ARG.encode())


def command_args(args: tuple) -> list[bytes] | CallError:
    """redis.call's arguments as a command: Lua numbers formatted as Redis formats them;
    no arguments, or one of another type, is Redis's error."""
    if not args:
        return _NO_ARGS
    for a in args:
        if a.__class__ is not bytes:
            return _converted(args)
    return list(args)


def _converted(args: tuple) -> list[bytes] | CallError:
    argv = list(args)
    for i, a in enumerate(argv):
        if a.__class__ is not bytes:
            if a.__class__ is bool or not isinstance(a, int | float):
                return _BAD_ARG
            argv[i] = _number_arg(a)
    return argv


class ScriptError(Exception):
    """redis.call's error, raised through Lua as the host's exception object."""

    def __init__(self, text: bytes):
        super().__init__(text.decode("utf-8", "replace"))
        self.text = text


@dataclass
class Script:
    sha: str
    body: bytes
    runner: Any  # the Lua function that runs it (redis.lua's script_runner)
    flags: frozenset[str]
    shebang: bool  # flags came from a #! line (else Redis's defaults for EVAL)
    label: bytes = b""  # the name its errors give (the sha), encoded once

    def __post_init__(self) -> None:
        self.label = self.sha.encode()


@dataclass
class Function:
    name: str
    library: str
    callback: Any
    flags: frozenset[str]
    description: bytes | None
    label: bytes = b""  # the name its errors give, encoded once

    def __post_init__(self) -> None:
        self.label = self.name.encode()


@dataclass
class Library:
    name: str
    code: bytes
    functions: dict[str, Function] = field(default_factory=dict)


class Running:
    """The script or function running now (what SCRIPT KILL / FUNCTION STATS see). A
    plain class, not a dataclass: one is made per EVAL, and compiled, a dataclass's
    __init__ stays interpreted."""

    __slots__ = ("name", "command", "is_function", "started", "threshold_ms", "on_busy",
                 "wrote", "busy", "killed")  # fmt: skip

    def __init__(
        self, name: str, command: list[bytes], is_function: bool, started: float,
        threshold_ms: int, on_busy: Callable[[], None],
    ) -> None:  # fmt: skip
        self.name = name
        self.command = command
        self.is_function = is_function
        self.started = started
        self.threshold_ms = threshold_ms
        self.on_busy = on_busy
        self.wrote = False
        self.busy = False
        self.killed = False


def sha1hex(data: bytes) -> str:
    return hashlib.sha1(data).hexdigest()


def parse_shebang(body: bytes) -> tuple[frozenset[str], bytes, bool]:
    """A body's `#!lua flags=a,b` line: its flags, the code to compile and whether there
    was a shebang (its line stays as an empty one, so line numbers stay the user's)."""
    if not body.startswith(b"#!"):
        return frozenset(), body, False
    parts = _shebang(body)
    if not parts or parts[0] != "lua":
        engine = parts[0] if parts else ""
        raise RedisError(f"ERR Could not find engine '{engine}'")
    flags: set[str] = set()
    for part in parts[1:]:
        key, _, value = part.partition("=")
        if key != "flags":
            raise RedisError(f"ERR Unknown lua shebang option: {key}")
        for flag in filter(None, value.split(",")):
            if flag not in SCRIPT_FLAGS:
                raise RedisError(f"ERR Unexpected flag in script shebang: {flag}")
            flags.add(flag)
    return frozenset(flags), body[body.find(b"\n") :] if b"\n" in body else b"", True


def _shebang(code: bytes) -> list[str]:
    """The words of a `#!engine key=value...` first line."""
    return code.partition(b"\n")[0][2:].decode("utf-8", "replace").split()


class Scripting:
    """The runtime, the script cache and the function libraries of one node."""

    def __init__(self, catalog: Catalog, max_memory: int, version: str, known: Callable):
        self.catalog = catalog
        self.runtime = lua.LuaRuntime(
            encoding=None,
            register_eval=False,
            register_builtins=False,
            unpack_returned_tuples=True,
            max_memory=max_memory,
        )
        self.libs = Libraries(self.runtime)
        self.caller: Caller | None = None
        self.running: Running | None = None
        self.scripts: dict[str, Script] = {}
        self.by_sha: dict[bytes, Script] = {}  # the same, by the sha as EVALSHA sends it
        self.libraries: dict[str, Library] = {}
        self.functions: dict[str, Function] = {}
        self._prelude(version, known)
        for name, code in catalog.items(FUNCTIONS).items():
            self._install(name, code)
        catalog.listen(FUNCTIONS, self._changed)

    def _prelude(self, version: str, known: Callable) -> None:
        source = resources.files(__package__).joinpath("redis.lua").read_bytes()
        major, minor, patch = (int(x) for x in (version.split(".") + ["0", "0"])[:3])
        host = self.host = _Host(
            self, version.encode(), (major << 16) | (minor << 8) | patch, known
        )
        g = self.runtime.globals()
        exports = g.loadstring(source, b"=redis.lua")(host)
        self._run_function = exports[b"run_function"]
        self._reply_of = exports[b"reply_of"]
        self._compile = exports[b"compile_script"]
        self._load_library = exports[b"load_library"]
        self._arm = exports[b"arm"]
        self._bind = exports[b"bind"]
        self._clear_hook = g.debug.sethook  # a C function: calling it runs no Lua (no hook)
        # Nothing of the host's own globals is reachable from a script (see redis.lua's
        # sandbox); these go so that not even getfenv tricks find them.
        for name in ("os", "io", "debug", "require", "package", "module", "dofile", "loadfile",
                     "python", "print"):  # fmt: skip
            g[name.encode()] = None
        self._arm(HOOK_EVERY)

    # --- the script cache --------------------------------------------------------------

    def load(self, body: bytes) -> Script:
        """Compile a body (or find it compiled): SCRIPT LOAD and EVAL."""
        sha = sha1hex(body)
        script = self.scripts.get(sha)
        if script is not None:
            return script
        flags, code, shebang = parse_shebang(body)
        runner, err = self._compile(code, sha.encode())
        if runner is None:
            raise RedisError(f"ERR Error compiling script (new function): {_text(err)}")
        script = self.scripts[sha] = Script(sha, body, runner, flags, shebang)
        self.by_sha[script.label] = script
        return script

    def flush_scripts(self) -> None:
        self.scripts.clear()
        self.by_sha.clear()
        self.runtime.execute("collectgarbage()")

    # --- running -----------------------------------------------------------------------

    def bind(self, caller: Caller) -> None:
        """Make `caller` the runtime's redis.call/redis.pcall (once, before any run)."""
        caller.to_table = self.runtime.table_from
        self.caller = caller
        self._bind(caller.call, caller.pcall)

    def run(
        self, target: Script | Function, proto: int, nkeys: int, args: list[bytes],
        running: Running,
    ) -> bytes | CallError:  # fmt: skip
        """Run a script or function with the bound Caller set up for it: its RESP reply,
        or a CallError with the error text. `args` are its keys (the first `nkeys`) and
        then its arguments, as the command gives them (one list, not two: one copy)."""
        if self.running is not None:
            raise RedisError(SCRIPT_NESTED)
        self.running = running
        try:
            if target.__class__ is Script:
                out = target.runner(proto, nkeys, *args)  # type: ignore[union-attr]
            else:
                out = self._run_function(target.callback, target.label, proto, nkeys,  # type: ignore[union-attr]
                                         *args)  # fmt: skip
        except lua.LuaMemoryError:
            out = (False, b"ERR Script exceeded the Lua memory limit (lua-max-memory)")
        except lua.LuaError as exc:
            out = (False, f"ERR {exc}".encode())
        finally:
            self.running = None
        if running.killed:
            self._clear_hook()
            self._arm(HOOK_EVERY)
            if out.__class__ is not tuple or out[0] or not out[1].startswith(KILLED):
                return CallError(KILLED)  # it ended otherwise as it was killed
        return self._reply(out, proto)

    def _reply(self, out: Any, proto: int) -> bytes | CallError:
        """What a script runner gave (see redis.lua's `result`) as the RESP reply: a string or
        an integer result is encoded here (as Redis's reply for a Lua string or number)."""
        cls = out.__class__
        if cls is bytes:
            return b"$%d\r\n%s\r\n" % (len(out), out)
        if cls is int:
            return b":%d\r\n" % out
        if cls is tuple:
            return out[1] if out[0] else CallError(out[1])
        return self._reply_of(out, proto)  # a non-integral number: Lua's own truncation

    def tick(self) -> bytes | None:
        """The count hook: past busy-reply-threshold the node answers others (BUSY,
        SCRIPT KILL) between slices of the script; None = go on."""
        running = self.running
        if running is None:
            return None
        if not running.busy:
            if (time.monotonic() - running.started) * 1000 < running.threshold_ms:
                return None
            running.busy = True
            log.warning(
                "script %s has run for more than %d ms (busy-reply-threshold): other clients "
                "get BUSY until it ends or SCRIPT KILL stops it",
                running.name,
                running.threshold_ms,
            )
        running.on_busy()
        return KILLED if running.killed else None

    # --- libraries ---------------------------------------------------------------------

    def compile_library(self, code: bytes) -> Library:
        """Check a library's code and collect its functions (FUNCTION LOAD)."""
        name = library_name(code)
        ok, found = self._load_library(code)
        if not ok:
            raise RedisError(f"ERR {_text(found)}")
        library = Library(name, code)
        for i in range(1, len(found) + 1):
            fname, callback, flags, desc = (found[i][j] for j in range(1, 5))
            fn = _function(library, fname, callback, flags, desc)
            if fn.name in library.functions:
                raise RedisError(f"ERR Function {fn.name} already exists")
            library.functions[fn.name] = fn
        if not library.functions:
            raise RedisError(FUNCTION_NONE_REGISTERED)
        return library

    def check_new(self, library: Library, replace: bool) -> None:
        """What FUNCTION LOAD refuses: an existing library, or a function name another
        library has."""
        if library.name in self.libraries and not replace:
            raise RedisError(f"ERR Library '{library.name}' already exists")
        for name in library.functions:
            other = self.functions.get(name)
            if other is not None and other.library != library.name:
                raise RedisError(f"ERR Function {name} already exists")

    def _install(self, name: str, code: bytes) -> None:
        try:
            library = self.compile_library(code)
        except RedisError as exc:
            log.error("function library %s from the catalog does not load: %s", name, exc.text)
            return
        self._uninstall(name)
        self.libraries[name] = library
        self.functions.update(library.functions)

    def _uninstall(self, name: str) -> None:
        old = self.libraries.pop(name, None)
        if old is not None:
            for fname in old.functions:
                if self.functions.get(fname) is old.functions[fname]:
                    del self.functions[fname]

    def _changed(self, name: str, code: bytes | None) -> None:
        """A library changed in the catalog (here, or on another node)."""
        if code is None:
            self._uninstall(name)
        elif name not in self.libraries or self.libraries[name].code != code:
            self._install(name, code)


def library_name(code: bytes) -> str:
    """The `#!lua name=<lib>` line every library starts with."""
    if not code.startswith(b"#!"):
        raise RedisError(LIBRARY_METADATA_MISSING)
    line = _shebang(code)
    if not line:
        raise RedisError(LIBRARY_METADATA_MISSING)
    if line[0] != "lua":
        raise RedisError(f"ERR Engine '{line[0]}' not found")
    name = None
    for part in line[1:]:
        key, _, value = part.partition("=")
        if key != "name":
            raise RedisError(f"ERR Invalid metadata value given: {part}")
        name = value
    if name is None:
        raise RedisError(LIBRARY_NAME_NOT_GIVEN)
    if not _NAME.match(name.encode()):
        raise RedisError(
            "ERR Library names can only contain letters, numbers, or underscores(_) "
            "and must be at least one character long"
        )
    return name


def _function(library: Library, name: Any, callback: Any, flags: Any, desc: Any) -> Function:
    if not isinstance(name, bytes) or not _NAME.match(name):
        raise RedisError(
            "ERR Function names can only contain letters, numbers, or underscores(_) "
            "and must be at least one character long"
        )
    names = set()
    for i in range(1, len(flags) + 1):
        flag = _text(flags[i])
        if flag not in SCRIPT_FLAGS:
            raise RedisError(FUNCTION_UNKNOWN_FLAG)
        names.add(flag)
    return Function(name.decode(), library.name, callback, frozenset(names), desc)


def _number_arg(n: float | int) -> bytes:
    """A Lua number given to redis.call, as Redis formats it."""
    if n == int(n) and abs(n) < 1e17:
        return b"%d" % int(n)
    return b"%.17g" % n


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


class _Host:
    """What redis.lua calls on the Python side."""

    def __init__(self, scripting: Scripting, version: bytes, version_num: int, known: Callable):
        self.scripting = scripting
        self.version = version
        self.version_num = version_num
        self.libraries = scripting.libs.lua_tables()
        self._known = known

    def as_error(self, exc: Any) -> Any:
        """A Python exception raised through Lua, as the error table a script sees."""
        text = exc.text if isinstance(exc, ScriptError) else f"ERR {exc}".encode()
        return self.scripting.runtime.table_from({b"err": text})

    def setresp(self, resp: int) -> None:
        caller = self.scripting.caller
        if caller is not None:
            caller.resp = int(resp)

    def tick(self) -> bytes | None:
        return self.scripting.tick()

    def log(self, level: int, text: bytes) -> None:
        log.log(_LOG_LEVELS.get(int(level), logging.INFO), "%s", _text(text))

    def sha1hex(self, data: bytes) -> bytes:
        return sha1hex(data).encode()

    def known(self, name: bytes) -> bool:
        return bool(self._known(name))
