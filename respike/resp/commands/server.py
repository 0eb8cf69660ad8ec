"""Server commands: COMMAND, INFO, CONFIG, DBSIZE, FLUSHALL, TIME, DEBUG."""

from __future__ import annotations

import asyncio
import time

from ...config import (
    NAMESPACE_SETTINGS,
    NODE_ALIASES,
    NODE_SETTINGS,
    ConfigError,
    check_namespace,
    set_dynamic,
)
from ...errors import SYNTAX, RedisError
from ..client import Blocking
from ..encode import OK, Status, Verbatim, encode, integer
from ..table import Command, command, container, help_reply
from .args import glob_matcher, to_float
from .info import render_info

G = "server"

# Settings Redis clients and tools ask for, answered as a plain Redis would.
REDIS_COMPAT = {
    "save": "",
    "appendonly": "no",
    "databases": "1",
    "maxmemory": "0",
    "maxmemory-policy": "noeviction",
    "timeout": "0",
}


# --- COMMAND ---------------------------------------------------------------------------

COMMAND = container(
    "command", G, "Returns detailed information about all commands.", since="2.8.13"
)
COMMAND.arity = -1
COMMAND.min_args = 1
_command_dispatch = COMMAND.handler


def _command_root(c, a):
    if len(a) == 1:
        return encode([command_entry(cmd) for cmd in c.server.table.all()], c.proto)
    return _command_dispatch(c, a)


COMMAND.handler = _command_root


def command_entry(cmd: Command) -> list:
    flags = [Status(f) for f in cmd.flags if f != "allow_busy"]
    return [
        cmd.name,
        cmd.arity,
        flags,
        cmd.first_key,
        cmd.last_key,
        cmd.key_step,
        [Status(cat) for cat in cmd.acl_categories()],
        [],
        cmd.key_specs(),
        [command_entry(sub) for _, sub in sorted(cmd.subcommands.items())],
    ]


def _doc(cmd: Command) -> dict:
    doc = {
        "summary": cmd.summary,
        "since": cmd.since,
        "group": cmd.group if cmd.group != "native" else "generic",
        "complexity": cmd.complexity,
    }
    if cmd.doc_args:
        doc["arguments"] = _doc_args(cmd.doc_args)
    if cmd.subcommands:
        doc["subcommands"] = {sub.name: _doc(sub) for _, sub in sorted(cmd.subcommands.items())}
    return doc


def _doc_args(args: list[dict]) -> list[dict]:
    """Argument docs as Redis encodes them: `flags` are simple strings (redis-cli asserts
    that they are status replies and aborts otherwise)."""
    out = []
    for arg in args:
        arg = dict(arg)
        if "flags" in arg:
            arg["flags"] = [Status(f) for f in arg["flags"]]
        if "arguments" in arg:
            arg["arguments"] = _doc_args(arg["arguments"])
        out.append(arg)
    return out


@command(
    "command|count",
    2,
    "loading stale",
    (0, 0, 0),
    G,
    "Returns a count of commands.",
    "",
    since="2.8.13",
    example="COMMAND COUNT",
)
def command_count(c, a):
    return integer(len(c.server.table.commands))


@command(
    "command|info",
    -2,
    "loading stale",
    (0, 0, 0),
    G,
    "Returns information about one, multiple or all commands.",
    "[command-name...]",
    since="2.8.13",
    complexity="O(N)",
    example="COMMAND INFO get set",
)
def command_info(c, a):
    table = c.server.table
    if len(a) == 2:
        return encode([command_entry(cmd) for cmd in table.all()], c.proto)
    out = []
    for name in a[2:]:
        cmd = _find(table, name)
        out.append(None if cmd is None else command_entry(cmd))
    return encode(out, c.proto)


def _find(table, name: bytes) -> Command | None:
    text = name.decode("utf-8", "replace").lower()
    if "|" in text:
        parent, sub = text.split("|", 1)
        cmd = table.commands.get(parent)
        return None if cmd is None else cmd.subcommands.get(sub)
    return table.commands.get(text)


@command(
    "command|docs",
    -2,
    "loading stale",
    (0, 0, 0),
    G,
    "Returns documentary information about one, multiple or all commands.",
    "[command-name...]",
    since="7.0.0",
    complexity="O(N)",
    example="COMMAND DOCS get",
)
def command_docs(c, a):
    table = c.server.table
    cmds = table.all() if len(a) == 2 else [x for n in a[2:] if (x := _find(table, n)) is not None]
    return encode({cmd.name: _doc(cmd) for cmd in cmds}, c.proto)


@command(
    "command|list",
    -2,
    "loading stale",
    (0, 0, 0),
    G,
    "Returns a list of command names.",
    "[FILTERBY (MODULE module-name)|(ACLCAT category)|(PATTERN pattern:pattern)]",
    since="7.0.0",
    complexity="O(N)",
    example="COMMAND LIST FILTERBY PATTERN h*",
)
def command_list(c, a):
    cmds = c.server.table.all()
    names = [cmd.name for cmd in cmds] + [s.name for cmd in cmds for s in cmd.subcommands.values()]
    if len(a) == 5 and a[2].upper() == b"FILTERBY":
        how, value = a[3].upper(), a[4]
        if how == b"PATTERN":
            match = glob_matcher(value, True)
            names = [n for n in names if match(n.encode())]
        elif how == b"ACLCAT":
            cat = "@" + value.decode().lower()
            every = {cmd.name: cmd for cmd in cmds} | {
                s.name: s for cmd in cmds for s in cmd.subcommands.values()
            }
            names = [n for n in names if cat in every[n].acl_categories()]
        elif how == b"MODULE":
            names = []
        else:
            raise RedisError(SYNTAX)
    elif len(a) != 2:
        raise RedisError(SYNTAX)
    return encode(names, c.proto)


def _keys_of(c, a) -> tuple[Command, list[int]]:
    """Redis's getKeysSubcommandImpl: its checks, in its order."""
    args = a[2:]
    cmd = c.server.table.resolve(args)
    if cmd is None or (
        cmd.subcommands and len(args) > 1 and cmd.name == args[0].decode("utf-8", "replace").lower()
    ):
        raise RedisError("ERR Invalid command specified")
    if not cmd.keyed:
        raise RedisError("ERR The command has no key arguments")
    if not cmd.arity_ok(len(args)):
        raise RedisError("ERR Invalid number of arguments specified for command")
    positions = cmd.key_positions(args)
    if not positions:
        raise RedisError("ERR Invalid arguments specified for command")
    return cmd, positions


@command(
    "command|getkeys",
    -4,
    "loading stale",
    (0, 0, 0),
    G,
    "Extracts the key names from an arbitrary command.",
    "command arg...",
    since="2.8.13",
    complexity="O(N)",
    example="COMMAND GETKEYS MSET a 1 b 2",
)
def command_getkeys(c, a):
    _, positions = _keys_of(c, a)
    return encode([a[2 + p] for p in positions], c.proto)


@command(
    "command|getkeysandflags",
    -4,
    "loading stale",
    (0, 0, 0),
    G,
    "Extracts the key names and access flags for an arbitrary command.",
    "command arg...",
    since="7.0.0",
    complexity="O(N)",
    example="COMMAND GETKEYSANDFLAGS SET a 1",
)
def command_getkeysandflags(c, a):
    cmd, positions = _keys_of(c, a)
    flags = [Status(f) for f in cmd.key_specs()[0]["flags"]] if cmd.key_specs() else []
    return encode([[a[2 + p], flags] for p in positions], c.proto)


@command(
    "command|help",
    2,
    "loading stale",
    (0, 0, 0),
    G,
    "Returns helpful text about the different subcommands.",
    "",
    since="5.0.0",
    example="COMMAND HELP",
)
def command_help(c, a):
    return help_reply(c, COMMAND)


# --- INFO ------------------------------------------------------------------------------


@command(
    "info",
    -1,
    "loading stale",
    (0, 0, 0),
    G,
    "Returns information and statistics about the server.",
    "[section...]",
    since="1.0.0",
    complexity="O(1)",
    example="INFO namespace",
)
def info(c, a):
    sections = [s.decode("utf-8", "replace").lower() for s in a[1:]]
    return encode(Verbatim(render_info(c.server, sections)), c.proto)


# --- CONFIG ----------------------------------------------------------------------------

CONFIG = container("config", G, "A container for server configuration commands.", since="2.0.0")


def config_items(server) -> dict[str, str]:
    """Every setting a client may read: Redis's usual ones, the node's, and the namespaces'
    (as NAMESPACE.setting)."""
    node = server.node_config
    items = dict(REDIS_COMPAT)
    items["cluster-enabled"] = "yes" if server.node.clustered else "no"
    for name, setting in NODE_SETTINGS.items():
        items[name] = setting.show(node[name])
    for alias, name in NODE_ALIASES.items():
        items[alias] = items[name]
    for ns in server.engine.namespaces.values():
        for name, setting in NAMESPACE_SETTINGS.items():
            items[f"{ns.name}.{name}"] = setting.show(ns.config.values[name])
    return items


@command(
    "config|get",
    -3,
    "admin noscript loading stale",
    (0, 0, 0),
    G,
    "Returns the effective values of configuration parameters.",
    "parameter...",
    since="2.0.0",
    complexity="O(N)",
    example="CONFIG GET test.default-ttl",
)
def config_get(c, a):
    items = config_items(c.server)
    found: dict[str, str] = {}
    for pattern in a[2:]:
        match = glob_matcher(pattern.lower(), True)
        for name, value in items.items():
            if match(name.encode()):
                found[name] = value
    return encode(found, c.proto)


def _config_error(name: str, reason: str) -> RedisError:
    return RedisError(f"ERR CONFIG SET failed (possibly related to argument '{name}') - {reason}")


@command(
    "config|set",
    -4,
    "admin noscript loading stale",
    (0, 0, 0),
    G,
    "Sets configuration parameters in-flight.",
    "(parameter value)...",
    since="2.0.0",
    complexity="O(N)",
    example="CONFIG SET test.default-ttl 0",
)
def config_set(c, a):
    if len(a) % 2:
        raise RedisError("ERR wrong number of arguments for 'config|set' command")
    changes = []
    known = config_items(c.server)
    for i in range(2, len(a), 2):
        name = a[i].decode("utf-8", "replace").lower()
        value = a[i + 1].decode("utf-8", "replace")
        if name not in known:
            raise RedisError(
                f"ERR Unknown option or number of arguments for CONFIG SET - '{a[i].decode('utf-8', 'replace')}'"
            )
        changes.append((NODE_ALIASES.get(name, name), value))
    try:
        c.server.node.configure(changes)
    except ConfigError as exc:
        raise _config_error(getattr(exc, "setting", changes[0][0]), str(exc)) from None
    return OK


def apply_config(server, changes: list[tuple[str, str]]) -> list[tuple[str | None, str]]:
    """Validate then apply CONFIG SET changes (all or none); returns (namespace, key) applied.

    Changes to one namespace are validated together (`max-ttl` with `default-ttl` ...),
    so a set of changes that is only valid as a whole is accepted, and one that breaks a
    rule as a whole is refused. A ConfigError carries `.setting`: the name it is about."""
    node_values = dict(server.node_config)
    ns_values: dict[str, tuple[object, dict, str]] = {}
    staged: list[tuple[object, str]] = []
    seen: set[str] = set()
    for name, value in changes:
        try:
            if name in seen:
                raise ConfigError("duplicate parameter")
            seen.add(name)
            ns_name, _, key = name.rpartition(".")
            if name in REDIS_COMPAT or name == "cluster-enabled":
                raise ConfigError(f"'{name}' is fixed in respike")
            if ns_name:
                ns = server.engine.by_name(ns_name.encode())
                if ns is None:
                    raise ConfigError(f"unknown namespace '{ns_name}'")
                _, values, _ = ns_values.setdefault(ns.name, (ns, dict(ns.config.values), name))
                set_dynamic(NAMESPACE_SETTINGS, values, key, value)
                staged.append((ns, key))
            else:
                set_dynamic(NODE_SETTINGS, node_values, key, value)
                staged.append((None, key))
        except ConfigError as exc:
            exc.setting = name  # type: ignore[attr-defined]
            raise
    for ns, values, first in ns_values.values():
        try:
            check_namespace(ns.name, values)  # type: ignore[attr-defined]
        except ConfigError as exc:
            exc.setting = first  # type: ignore[attr-defined]
            raise
    for ns, key in staged:
        if ns is None:
            server.node_config[key] = node_values[key]
        else:
            ns.config.values[key] = ns_values[ns.name][1][key]  # type: ignore[attr-defined]
    for ns, _, _ in ns_values.values():
        ns.apply_settings()  # type: ignore[attr-defined]
    return [(ns.name if ns else None, key) for ns, key in staged]  # type: ignore[attr-defined]


@command(
    "config|resetstat",
    2,
    "admin noscript loading stale",
    (0, 0, 0),
    G,
    "Resets the server's statistics.",
    "",
    since="2.0.0",
    example="CONFIG RESETSTAT",
)
def config_resetstat(c, a):
    c.server.node.reset_stats()
    return OK


@command(
    "config|rewrite",
    2,
    "admin noscript loading stale",
    (0, 0, 0),
    G,
    "Persists the effective configuration to file (not supported: edit the TOML file).",
    "",
    since="2.8.0",
    example="CONFIG REWRITE",
)
def config_rewrite(c, a):
    raise RedisError(
        "ERR CONFIG REWRITE is not supported: respike's configuration is the TOML file"
    )


@command(
    "config|help",
    2,
    "loading stale",
    (0, 0, 0),
    G,
    "Returns helpful text about the different subcommands.",
    "",
    since="5.0.0",
    example="CONFIG HELP",
)
def config_help(c, a):
    return help_reply(c, CONFIG)


# --- keyspace-wide ---------------------------------------------------------------------


@command(
    "dbsize",
    1,
    "readonly fast",
    (0, 0, 0),
    "server",
    "Returns the number of keys in the database.",
    "",
    example="DBSIZE",
)
def dbsize(c, a):
    from .keys import cluster_mode

    mode, cluster = cluster_mode(c)
    if mode == "local":
        return integer(sum(ns.count() for ns in c.engine.namespaces.values()))
    if mode == "masters":  # the records this node masters, as a Redis Cluster node counts
        owned = cluster.mastered_here()
        return integer(
            sum(
                ns.storage.partition_count(pid)
                for ns in c.engine.namespaces.values()
                for pid in owned
            )
        )
    return _dbsize_cluster(cluster)


async def _dbsize_cluster(cluster) -> bytes:
    return integer(sum(await cluster.broadcast_gather([b"DBSIZE"])))


def _flush(c, a, name: str):
    if len(a) > 2 or (len(a) == 2 and a[1].upper() not in (b"ASYNC", b"SYNC")):
        raise RedisError(SYNTAX)
    return after(c.server.node.truncate_all(everywhere=not c.proxied), OK)


@command(
    "flushdb",
    -1,
    "write",
    (0, 0, 0),
    "server",
    "Removes all keys from the current database (truncates every namespace).",
    "[ASYNC|SYNC]",
    example="FLUSHDB",
)
def flushdb(c, a):
    return _flush(c, a, "flushdb")


@command(
    "flushall",
    -1,
    "write",
    (0, 0, 0),
    "server",
    "Removes all keys from all databases (truncates every namespace).",
    "[ASYNC|SYNC]",
    example="FLUSHALL",
)
def flushall(c, a):
    return _flush(c, a, "flushall")


@command(
    "time",
    1,
    "loading stale fast",
    (0, 0, 0),
    "server",
    "Returns the server time.",
    "",
    since="2.6.0",
    example="TIME",
)
def time_(c, a):
    now = time.time_ns() // 1000
    return encode([b"%d" % (now // 1_000_000), b"%d" % (now % 1_000_000)], c.proto)


DEBUG = container("debug", "server", "A container for debugging commands.")


@command(
    "debug|sleep",
    3,
    "admin noscript loading stale",
    (0, 0, 0),
    "server",
    "Waits the given number of seconds before answering (this connection only).",
    "seconds:double",
    example="DEBUG SLEEP 0.5",
)
def debug_sleep(c, a):
    seconds = to_float(a[2])
    if seconds <= 0:
        return OK
    return Blocking(_sleep(seconds))


def after(awaitable, reply: bytes):
    """`reply` once `awaitable` (if any) completes: cluster-wide operations."""
    if awaitable is None:
        return reply

    async def wait() -> bytes:
        await awaitable
        return reply

    return wait()


async def _sleep(seconds: float) -> bytes:
    await asyncio.sleep(seconds)
    return OK
