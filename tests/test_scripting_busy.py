"""A script that never ends, past busy-reply-threshold: every other client (connected
before, or connecting meanwhile) is answered -BUSY, SCRIPT KILL / FUNCTION KILL from
another connection stops it and its caller gets Redis's error, a script that wrote
cannot be killed (UNKILLABLE) and SHUTDOWN NOSAVE stops the server. Each scenario runs
against a respike node and a private redis-server of its own, and the texts are
compared. Nothing here can hang: every socket has a timeout, the looping script's reply
is read only after the kill, every wait is bounded, and the fixtures kill what they
started (a node stuck in a script gets SIGKILL)."""

from __future__ import annotations

import hiredis
import pytest

from respike.process import wait_until
from tests.helpers import RawClient, encode, redis_server_process

THRESHOLD_MS = 200
LOOP = "while true do end"
# pcall cannot swallow the kill: the hook fires again at the next instruction
PCALL_LOOP = "local n = 0\nwhile true do\n  pcall(function() while true do n = n + 1 end end)\nend"
WROTE_THEN_LOOP = "redis.call('set', KEYS[1], 'v') while true do end"
LIB = (
    "#!lua name=loops\n"
    "redis.register_function('spin', function() while true do end end)\n"
    "redis.register_function{function_name='spin_ro', callback=function() while true do end end,"
    " flags={'no-writes'}}\n"
)


class Server:
    """Where a scenario runs: host, port and a way to tell the process is gone."""

    def __init__(self, host: str, port: int, alive):
        self.host, self.port, self.alive = host, port, alive

    def client(self, timeout: float = 10.0) -> RawClient:
        return RawClient(self.host, self.port, timeout=timeout)


@pytest.fixture
def redis_ref():
    """A redis-server of this test's own (SHUTDOWN NOSAVE may stop it)."""
    with redis_server_process("redis-busy-") as proc:
        yield Server("127.0.0.1", proc.port, lambda: proc.poll() is None)


@pytest.fixture
def ours(start_node):
    node = start_node()
    return Server(node.host, node.port, node.alive)


def _plain(reply):
    """Error replies as comparable values (hiredis's ReplyError compares by identity)."""
    return ("error", str(reply)) if isinstance(reply, hiredis.ReplyError) else reply


def _text(reply) -> str:
    assert isinstance(reply, hiredis.ReplyError), f"expected an error, got {reply!r}"
    return str(reply)


def _busy_reply(client: RawClient, *args) -> str:
    """The error an existing client gets once the server is busy (it may first wait for
    the threshold to pass, so poll until the answer is BUSY)."""
    seen: list = []

    def busy() -> bool:
        seen.append(client.call(*args))
        return isinstance(seen[-1], hiredis.ReplyError) and str(seen[-1]).startswith("BUSY")

    wait_until(busy, 10, f"BUSY for {args}", interval=0.05)
    return str(seen[-1])


def _start(server: Server, *command) -> RawClient:
    """Send a command that will not end; its reply is read later (after a kill)."""
    runner = server.client(timeout=15)
    runner.send(encode(*command))
    return runner


def _killed_script(server: Server, body: str) -> dict:
    """An endless EVAL: what others see while it runs, SCRIPT KILL, its caller's error."""
    out = {}
    with server.client() as admin, server.client() as before:
        assert admin.call("CONFIG", "SET", "busy-reply-threshold", THRESHOLD_MS) == b"OK"
        assert admin.call("SET", "k", "1") == b"OK"
        runner = _start(server, "EVAL", body, 0)
        with runner:
            out["existing"] = _busy_reply(before, "GET", "k")
            with server.client() as newcomer:  # connected while busy
                out["newcomer"] = _text(newcomer.call("PING"))
                out["newcomer_set"] = _text(newcomer.call("SET", "k", "2"))
                out["function_kill"] = _text(before.call("FUNCTION", "KILL"))
                out["kill"] = admin.call("SCRIPT", "KILL")
                out["runner"] = _text(runner.read())
                # everybody is served again, the newcomer as an ordinary client
                out["after"] = [
                    newcomer.call("GET", "k"),
                    before.call("PING"),
                    runner.call("INCR", "k"),
                    _plain(admin.call("SCRIPT", "KILL")),
                ]
        with server.client() as late:
            out["late"] = late.call("GET", "k")
        admin.call("CONFIG", "SET", "busy-reply-threshold", 5000)
    return out


@pytest.mark.parametrize("body", [LOOP, PCALL_LOOP], ids=["loop", "pcall-loop"])
def test_script_kill_matches_redis(ours, redis_ref, body):
    mine, theirs = _killed_script(ours, body), _killed_script(redis_ref, body)
    assert mine["existing"].startswith("BUSY Redis is busy running a script.")
    assert mine["kill"] == b"OK"
    assert mine["after"][:3] == [b"1", b"PONG", 2]
    assert mine == theirs
    assert ours.alive() and redis_ref.alive()


def _unkillable(server: Server) -> dict:
    """A script that wrote, then loops: SCRIPT KILL refuses, SHUTDOWN NOSAVE stops the
    server (the runner's connection closes, the process exits)."""
    out = {}
    with server.client() as admin:
        assert admin.call("CONFIG", "SET", "busy-reply-threshold", THRESHOLD_MS) == b"OK"
        with _start(server, "EVAL", WROTE_THEN_LOOP, 1, "w") as runner:
            out["busy"] = _busy_reply(admin, "PING")
            out["kill"] = _text(admin.call("SCRIPT", "KILL"))
            out["shutdown"] = _text(admin.call("SHUTDOWN"))  # only NOSAVE stops a busy server
            admin.send(encode("SHUTDOWN", "NOSAVE"))
            wait_until(lambda: not server.alive(), 15, "the server to stop")
            out["runner_closed"] = runner.is_closed(5)
    return out


def test_unkillable_script_and_shutdown_nosave(ours, redis_ref):
    mine, theirs = _unkillable(ours), _unkillable(redis_ref)
    assert mine["kill"].startswith("UNKILLABLE Sorry the script already executed write")
    assert mine["runner_closed"]
    assert mine == theirs


def _killed_function(server: Server) -> dict:
    out = {}
    with server.client() as admin, server.client() as other:
        assert admin.call("FUNCTION", "LOAD", "REPLACE", LIB) == b"loops"
        assert admin.call("CONFIG", "SET", "busy-reply-threshold", THRESHOLD_MS) == b"OK"
        for name in ("spin", "spin_ro"):
            with _start(server, "FCALL", name, 0) as runner:
                out[f"{name} busy"] = _busy_reply(other, "PING")
                out[f"{name} stats"] = _running(admin.call("FUNCTION", "STATS"))
                out[f"{name} script kill"] = _text(admin.call("SCRIPT", "KILL"))
                out[f"{name} kill"] = admin.call("FUNCTION", "KILL")
                out[f"{name} runner"] = _text(runner.read())
                out[f"{name} after"] = other.call("PING")
        admin.call("CONFIG", "SET", "busy-reply-threshold", 5000)
    return out


def _running(stats: list) -> dict:
    """FUNCTION STATS's running_script, its duration checked and dropped."""
    fields = dict(zip(stats[::2], stats[1::2], strict=True))
    running = dict(zip(fields[b"running_script"][::2], fields[b"running_script"][1::2],
                       strict=True))  # fmt: skip
    assert running.pop(b"duration_ms") >= THRESHOLD_MS
    return {**running, b"engines": fields[b"engines"]}


def test_function_kill_matches_redis(ours, redis_ref):
    mine, theirs = _killed_function(ours), _killed_function(redis_ref)
    assert mine["spin busy"].endswith("You can only call FUNCTION KILL or SHUTDOWN NOSAVE.")
    assert mine["spin kill"] == b"OK" and mine["spin after"] == b"PONG"
    assert mine == theirs


def test_lua_time_limit_is_the_same_setting(ours, redis_ref):
    for server in (ours, redis_ref):
        with server.client() as c:
            assert c.call("CONFIG", "SET", "lua-time-limit", 1234) == b"OK"
            assert c.call("CONFIG", "GET", "busy-reply-threshold") == [
                b"busy-reply-threshold",
                b"1234",
            ]
            assert c.call("CONFIG", "SET", "busy-reply-threshold", 4321) == b"OK"
            assert c.call("CONFIG", "GET", "lua-time-limit") == [b"lua-time-limit", b"4321"]
