"""Commands as data: each command is declared once, next to its handler.

The declaration (name, arity, flags, key positions, arguments, summary) drives dispatch,
arity errors, `COMMAND`/`COMMAND INFO/DOCS/GETKEYS` (what cluster clients route with),
key extraction for cluster routing, and docs/commands.md.

Arguments use a compact synopsis, e.g. `key value [NX|XX] [EX seconds:integer|KEEPTTL]`:
`[..]` optional, `(..)` block, `a|b` one of, `...` repeatable, `UPPER` a token, and
`name:type` a typed argument (type string when omitted; `key` names a key).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from ..errors import RedisError, unknown_subcommand, wrong_arity
from .encode import Status, encode
from .stats import Latency

Handler = Callable[..., Any]

# Commands that change how the connection runs what follows (MULTI, AUTH, HELLO, ...).
_STATEFUL = frozenset(
    {
        "multi",
        "exec",
        "discard",
        "auth",
        "hello",
        "reset",
        "quit",
        "readonly",
        "readwrite",
        "asking",
    }
)

# Commands that put themselves in the slow log (Client._timed leaves them out): scripts
# run on the inline path (below), so they are timed one call in SAMPLE_EVERY for the
# latency statistics, but a slow script is in SLOWLOG every time, as in Redis.
SELF_LOGGED = frozenset({"eval", "evalsha", "eval_ro", "evalsha_ro", "fcall", "fcall_ro"})
# Commands on the inline path although their complexity is not O(1) (they are then timed
# one call in SAMPLE_EVERY, like every inline command): Redis flags them `fast`, and a
# PUBLISH's cost is its delivery, which it would otherwise pay twice over (measured with
# bench/pubsub_bench.py: 0.34x -> 0.52x of Redis's messages per second, one subscriber).
# A script's cost is what it runs, and the commands it runs are timed where they run.
_INLINE = frozenset({"publish", "spublish"}) | SELF_LOGGED

_ACL_BY_GROUP = {
    "string": "@string",
    "hash": "@hash",
    "list": "@list",
    "set": "@set",
    "sorted-set": "@sortedset",
    "stream": "@stream",
    "generic": "@keyspace",
    "connection": "@connection",
    "transactions": "@transaction",
    "server": "@admin",
    "cluster": "@admin",
    "native": "@keyspace",
}


@dataclass(slots=True, eq=False)
class Command:
    name: str
    arity: int
    flags: tuple[str, ...]
    first_key: int
    last_key: int
    key_step: int
    group: str
    summary: str
    args: str = ""
    since: str = "1.0.0"
    complexity: str = "O(1)"
    example: str = ""
    handler: Handler | None = None
    getkeys: Callable[[list[bytes]], list[int]] | None = None
    subcommands: dict[str, Command] = field(default_factory=dict)
    doc_args: list[dict[str, Any]] = field(default_factory=list)
    write: bool = field(init=False, default=False)
    # Routed as a write in a cluster (write gates, never a replica's copy, not retried
    # when a proxied master leaves): a write, or a script or function that may write
    # (EVAL, EVALSHA, FCALL: Redis's may_replicate).
    routes_as_write: bool = field(init=False, default=False)
    readonly: bool = field(init=False, default=False)
    min_args: int = field(init=False, default=0)
    keyed: bool = field(init=False, default=False)
    # Statistics (see resp/stats.py): exact counts, sampled latency.
    timed: bool = field(init=False, default=True)
    self_logged: bool = field(init=False, default=False)
    calls: int = field(init=False, default=0)
    failed_calls: int = field(init=False, default=0)
    rejected_calls: int = field(init=False, default=0)
    latency: Latency = field(init=False, default_factory=Latency)

    def __post_init__(self) -> None:
        self.write = "write" in self.flags
        self.routes_as_write = self.write or "may_replicate" in self.flags
        self.readonly = "readonly" in self.flags
        self.min_args = -self.arity if self.arity < 0 else self.arity
        self.keyed = bool(self.first_key) or self.getkeys is not None
        self.timed = not self.complexity.startswith("O(1)") and self.name not in _INLINE
        self.self_logged = self.name in SELF_LOGGED
        self.doc_args = parse_synopsis(self.args) if self.args else []

    @property
    def display(self) -> str:
        return self.name.replace("|", " ").upper()

    def arity_ok(self, argc: int) -> bool:
        return argc == self.arity if self.arity > 0 else argc >= self.min_args

    def key_positions(self, args: list[bytes]) -> list[int]:
        if self.getkeys is not None:
            return self.getkeys(args)
        if not self.first_key:
            return []
        last = self.last_key if self.last_key >= 0 else len(args) + self.last_key
        return list(range(self.first_key, min(last, len(args) - 1) + 1, self.key_step))

    def acl_categories(self) -> list[str]:
        cats = []
        if self.write:
            cats.append("@write")
        if self.readonly:
            cats.append("@read")
        cats.append(_ACL_BY_GROUP.get(self.group, "@keyspace"))
        cats.append("@fast" if "fast" in self.flags else "@slow")
        if "admin" in self.flags:
            cats.append("@dangerous")
        if "blocking" in self.flags:
            cats.append("@blocking")
        return list(dict.fromkeys(cats))

    def key_specs(self) -> list[dict[str, Any]]:
        if self.getkeys is not None and "movablekeys" in self.flags and self.first_key == 0:
            return [_keyspec(self, "keynum")]
        if not self.first_key:
            return []
        return [_keyspec(self, "range")]


def _keyspec(cmd: Command, how: str) -> dict[str, Any]:
    # Redis spells the access flags in lower case and sends every flag as a simple string.
    flags = [Status("RW"), Status("update")] if cmd.write else [Status("RO"), Status("access")]
    if how == "keynum":
        return {
            "flags": flags,
            "begin_search": {"type": "index", "spec": {"index": 1}},
            "find_keys": {"type": "keynum", "spec": {"keynumidx": 0, "firstkey": 1, "keystep": 1}},
        }
    if cmd.last_key < 0:
        lastkey = cmd.last_key
    else:
        lastkey = cmd.last_key - cmd.first_key
    return {
        "flags": flags,
        "begin_search": {"type": "index", "spec": {"index": cmd.first_key}},
        "find_keys": {
            "type": "range",
            "spec": {"lastkey": lastkey, "keystep": cmd.key_step, "limit": 0},
        },
    }


# Every declared handler's Command, by handler, made once as the command modules are
# imported. A registry, not an attribute on the function: compiled (mypyc) functions take
# no attributes, and the hottest command modules are compiled.
DECLARED: dict[Handler, Command] = {}


def command(
    name: str,
    arity: int,
    flags: str = "",
    keys: tuple[int, int, int] = (0, 0, 0),
    group: str = "generic",
    summary: str = "",
    args: str = "",
    since: str = "1.0.0",
    complexity: str = "O(1)",
    example: str = "",
    getkeys: Callable[[list[bytes]], list[int]] | None = None,
) -> Callable[[Handler], Handler]:
    """Declare the decorated function as the handler of a command (or `parent|sub`)."""

    def attach(fn: Handler) -> Handler:
        DECLARED[fn] = Command(
            name=name,
            arity=arity,
            flags=tuple(flags.split()),
            first_key=keys[0],
            last_key=keys[1],
            key_step=keys[2],
            group=group,
            summary=summary,
            args=args,
            since=since,
            complexity=complexity,
            example=example,
            handler=fn,
            getkeys=getkeys,
        )
        return fn

    return attach


def container(name: str, group: str, summary: str, since: str = "1.0.0") -> Command:
    """A command whose first argument names a subcommand (CLIENT, CONFIG, ...)."""
    parent = Command(name, -2, ("loading", "stale"), 0, 0, 0, group, summary, since=since)
    parent.handler = lambda c, a: dispatch_subcommand(c, a, parent)
    return parent


def dispatch_subcommand(c: Any, a: list[bytes], parent: Command) -> Any:
    """Run `PARENT sub ...` through the subcommand's own declaration and arity."""
    sub = parent.subcommands.get(a[1].decode("utf-8", "replace").lower())
    if sub is None:
        raise RedisError(unknown_subcommand(a[1], parent.name))
    argc = len(a)
    if argc != sub.arity and (sub.arity > 0 or argc < -sub.arity):
        sub.rejected_calls += 1
        raise RedisError(wrong_arity(sub.name))
    sub.calls += 1
    return sub.handler(c, a)


def help_reply(c: Any, parent: Command) -> bytes:
    lines = [f"{parent.display} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"]
    for name, sub in sorted(parent.subcommands.items()):
        lines.append(f"{name.upper()} {sub.args}".rstrip())
        lines.append(f"    {sub.summary}")
    return encode([Status(x) for x in lines], c.proto)


class CommandTable:
    """Every declared command, by lower-case name and by raw bytes spelling."""

    def __init__(self, modules: list[ModuleType]):
        self.commands: dict[str, Command] = {}
        for module in modules:
            for value in vars(module).values():
                if isinstance(value, Command):
                    self.commands[value.name] = value
        for module in modules:
            for value in vars(module).values():
                spec = DECLARED.get(value) if callable(value) else None
                if spec is not None:
                    self._add(spec)
        self.by_bytes: dict[bytes, Command] = {}
        # The client's inline fast path: (command, handler, arity) of every untimed command
        # that cannot change the connection's state (see Client._drain_fast).
        self.hot: dict[bytes, tuple[Command, Handler, int]] = {}
        for name, cmd in self.commands.items():
            for spelling in (name.encode(), name.upper().encode()):
                self.by_bytes[spelling] = cmd
                if not cmd.timed and not cmd.subcommands and name not in _STATEFUL:
                    self.hot[spelling] = (cmd, cmd.handler, cmd.arity)

    def _add(self, spec: Command) -> None:
        if "|" in spec.name:
            parent, sub = spec.name.split("|", 1)
            self.commands[parent].subcommands[sub] = spec
        else:
            self.commands[spec.name] = spec

    def lookup(self, name: bytes) -> Command | None:
        cmd = self.by_bytes.get(name)
        if cmd is None:
            cmd = self.by_bytes.get(name.lower())
        return cmd

    def resolve(self, args: list[bytes]) -> Command | None:
        """The command or subcommand `args` invoke (None if unknown)."""
        cmd = self.lookup(args[0])
        if cmd is not None and cmd.subcommands and len(args) > 1:
            return cmd.subcommands.get(args[1].decode("utf-8", "replace").lower(), cmd)
        return cmd

    def all(self) -> list[Command]:
        return sorted(self.commands.values(), key=lambda c: c.name)

    def every(self) -> list[Command]:
        """Every command and subcommand (what statistics are kept for)."""
        out = []
        for cmd in self.all():
            out.append(cmd)
            out.extend(sub for _, sub in sorted(cmd.subcommands.items()))
        return out

    def reset_stats(self) -> None:
        for cmd in self.every():
            cmd.calls = cmd.failed_calls = cmd.rejected_calls = 0
            cmd.latency = Latency()


# --- synopsis -> COMMAND DOCS arguments --------------------------------------------------

# A trailing `...` is its own token even when glued to a name (`key...`).
_TOKEN = re.compile(r"\[|\]|\(|\)|\||\.\.\.|[^\s\[\]()|]+?(?=\.\.\.|[\s\[\]()|]|$)")


def parse_synopsis(text: str) -> list[dict[str, Any]]:
    tokens = _TOKEN.findall(text)
    pos = 0
    key_index = [0]

    def items(stop: set[str]) -> list[list[dict[str, Any]]]:
        """Alternatives (split by |), each a list of arguments, until a stop token."""
        nonlocal pos
        alternatives: list[list[dict[str, Any]]] = [[]]
        while pos < len(tokens) and tokens[pos] not in stop:
            tok = tokens[pos]
            pos += 1
            if tok == "|":
                alternatives.append([])
                continue
            if tok in "[(":
                inner = items({"]" if tok == "[" else ")"})
                pos += 1
                arg = _group(inner)
                if tok == "[":
                    arg.setdefault("flags", []).append("optional")
            elif tok == "...":
                last = alternatives[-1][-1]
                last.setdefault("flags", []).append("multiple")
                continue
            elif tok.isupper() and pos < len(tokens) and _is_value(tokens[pos]):
                arg = _value(tokens[pos], key_index)
                arg["token"] = tok
                pos += 1
            elif tok.isupper() or not tok[0].isalpha():
                arg = {"name": tok.lower(), "type": "pure-token", "token": tok}
            else:
                arg = _value(tok, key_index)
            alternatives[-1].append(arg)
        return alternatives

    alternatives = items(set())
    if len(alternatives) > 1:  # `a|b` at the top level is one argument: a oneof
        return [_group(alternatives)]
    return alternatives[0]


def _is_value(tok: str) -> bool:
    return tok[0].isalpha() and not tok.isupper()


def _value(tok: str, key_index: list[int]) -> dict[str, Any]:
    name, _, kind = tok.partition(":")
    kind = kind or ("key" if name == "key" else "string")
    arg: dict[str, Any] = {"name": name, "type": kind}
    if kind == "key":
        arg["key_spec_index"] = 0
    else:
        arg["display_text"] = name
    return arg


def _group(alternatives: list[list[dict[str, Any]]]) -> dict[str, Any]:
    def block(args: list[dict[str, Any]]) -> dict[str, Any]:
        if len(args) == 1:
            return args[0]
        return {"name": "_".join(a["name"] for a in args), "type": "block", "arguments": args}

    if len(alternatives) == 1:
        return block(alternatives[0])
    options = [block(a) for a in alternatives]
    return {
        "name": "_".join(o["name"] for o in options)[:40],
        "type": "oneof",
        "arguments": options,
    }
