"""One client connection: read commands, execute them in order, answer in order.

All complete commands of one read are executed and answered with one write. A command
may answer later (a proxied or replicated write, a blocking pop): its reply holds the
place of every reply after it, and a *blocking* one also stops this connection from
executing anything else until it is answered, as in Redis.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any

import hiredis

from ..errors import (
    NOAUTH,
    RecordError,
    RedisError,
    unknown_command,
    wrong_arity,
)
from .encode import QUEUED, error
from .reader import ProtocolError, RequestReader

if TYPE_CHECKING:
    from .server import RespServer

log = logging.getLogger("respike.resp")

# Commands a MULTI does not queue.
_NOT_QUEUED = frozenset({"exec", "discard", "multi", "watch", "quit", "reset"})
_NO_AUTH_NEEDED = frozenset({"auth", "hello", "quit", "reset"})


class Blocking:
    """A reply that arrives later and blocks the connection until it does."""

    __slots__ = ("awaitable",)

    def __init__(self, awaitable: Awaitable[bytes]):
        self.awaitable = awaitable


class Client(asyncio.Protocol):
    def __init__(self, server: RespServer):
        self.server = server
        self.engine = server.engine
        self.commands = server.table.by_bytes
        self.id = server.next_client_id()
        self.proto = 2
        self.name = b""
        self.lib_name = b""
        self.lib_ver = b""
        self.authenticated = not server.node_config["requirepass"]
        self.multi: list[list[bytes]] | None = None
        self.multi_failed = False
        self.watched: dict[bytes, tuple[int, int] | None] = {}
        self.cluster_aware = False
        self.readonly = False
        self.asking = False
        self.closing = False
        self.commands_done = 0
        self.created = time.monotonic()
        self.last_active = self.created
        self.last_command = "NULL"
        self.transport: asyncio.Transport | None = None
        self.addr = self.laddr = "?:0"
        self.reader = RequestReader(server.node_config["proto-max-bulk-len"])
        # Replies waiting behind one that is not ready yet; None when nothing waits.
        self.queue: deque[Any] | None = None
        self.blocked = False
        self.held: list[bytes] = []
        self._out: list[bytes] = []
        self._chunk = b""
        self._done = 0
        self._last: list[bytes] | None = None

    # --- asyncio.Protocol --------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        peer = transport.get_extra_info("peername") or ("?", 0)
        local = transport.get_extra_info("sockname") or ("?", 0)
        self.addr = f"{peer[0]}:{peer[1]}"
        self.laddr = f"{local[0]}:{local[1]}"
        if not self.server.register(self):
            transport.write(b"-ERR max number of clients reached\r\n")
            self.closing = True
            transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closing = True
        self.server.unregister(self)

    def pause_writing(self) -> None:
        if self.transport is not None:
            self.transport.pause_reading()

    def resume_writing(self) -> None:
        if self.transport is not None and not self.blocked:
            self.transport.resume_reading()

    def data_received(self, data: bytes) -> None:
        if self.closing:
            return
        if self.blocked:
            self.held.append(data)
            return
        self.last_active = time.monotonic()
        reader = self.reader
        if reader.feed_fast(data):
            self._chunk, self._done, self._last = data, 0, None
        else:
            try:
                reader.feed(data)
            except ProtocolError as exc:
                self._protocol_error(str(exc))
                return
        self._drain()

    # --- the command loop --------------------------------------------------------------

    def _drain(self) -> None:
        reader = self.reader
        out = self._out
        if reader.fast and self._chunk:
            self._drain_fast()
        if not reader.fast:
            while not self.blocked and not self.closing:
                try:
                    cmd = reader.get()
                except ProtocolError as exc:
                    self._flush()
                    self._protocol_error(str(exc))
                    return
                if cmd is None:
                    break
                self._reply(self.execute(cmd))
            if reader.fast and self._chunk:
                self._drain_fast()
        if out:
            self._flush()

    def _drain_fast(self) -> None:
        reader = self.reader
        gets = reader._hiredis.gets
        done, last = self._done, self._last
        execute, reply = self.execute, self._reply
        while not self.blocked and not self.closing:
            try:
                cmd = gets()
            except hiredis.ProtocolError:
                cmd = None
            if cmd is False:
                reader.end_fast(self._chunk, done, last)
                self._chunk = b""
                return
            if cmd.__class__ is not list or not _all_bulk(cmd):
                if cmd is not None and not cmd:  # *0 / *-1: ignored, as Redis does
                    done += 1
                    continue
                reader.fast_failed(self._chunk, done)
                self._chunk = b""
                return
            done += 1
            last = cmd
            reply(execute(cmd))
        self._done, self._last = done, last

    def execute(self, args: list[bytes]) -> Any:
        """Run one command; returns encoded reply bytes, a Future, or a Blocking."""
        cmd = self.commands.get(args[0])
        if cmd is None:
            cmd = self.server.table.lookup(args[0])
            if cmd is None:
                return self._reject(unknown_command(args[0], args[1:]))
        argc = len(args)
        if argc != cmd.arity and (cmd.arity > 0 or argc < -cmd.arity):
            return self._reject(wrong_arity(cmd.name))
        if not self.authenticated and cmd.name not in _NO_AUTH_NEEDED:
            return self._reject(NOAUTH)
        if self.multi is not None and cmd.name not in _NOT_QUEUED:
            self.multi.append(args)
            return QUEUED
        self.last_command = cmd.name
        self.commands_done += 1
        try:
            if self.server.route is not None and cmd.keyed:
                routed = self.server.route(self, cmd, args)
                if routed is not None:
                    return routed
            reply = cmd.handler(self, args)
            if self.engine.waits:
                return self._after_waits(reply)
            return reply
        except RedisError as exc:
            return error(exc.text)
        except RecordError as exc:
            return error(exc.reply_text())
        except Exception:
            log.exception("command %s failed", cmd.name)
            return error(f"ERR internal error while running '{cmd.name}' (see the server log)")

    def _after_waits(self, reply: Any) -> Any:
        """Hold a write's reply until storage and replicas have acknowledged it."""
        waits = list(self.engine.waits)
        self.engine.waits.clear()

        async def wait() -> bytes:
            await asyncio.gather(*waits)
            return reply if reply.__class__ is bytes else await reply

        return wait()

    def _reject(self, text: str) -> bytes:
        if self.multi is not None:
            self.multi_failed = True
        return error(text)

    # --- replies -----------------------------------------------------------------------

    def _reply(self, reply: Any) -> None:
        if reply.__class__ is bytes:
            if self.queue is None:
                self._out.append(reply)
            else:
                self.queue.append(reply)
            return
        self._flush()
        if reply.__class__ is Blocking:
            self.blocked = True
            if self.transport is not None:
                self.transport.pause_reading()
            reply = reply.awaitable
        if self.queue is None:
            self.queue = deque()
            self.queue.append(asyncio.ensure_future(reply))
            asyncio.ensure_future(self._write_queue())
        else:
            self.queue.append(asyncio.ensure_future(reply))

    async def _write_queue(self) -> None:
        queue = self.queue
        assert queue is not None
        while queue:
            item = queue[0]
            if item.__class__ is not bytes:
                try:
                    item = await item
                except RedisError as exc:
                    item = error(exc.text)
                except RecordError as exc:
                    item = error(exc.reply_text())
                except Exception:
                    log.exception("deferred reply failed")
                    item = error("ERR internal error (see the server log)")
            queue.popleft()
            if not self.closing and self.transport is not None:
                self.transport.write(item)
            if self.blocked and not any(i.__class__ is not bytes for i in queue):
                self._unblock()
        self.queue = None
        if self.blocked:
            self._unblock()

    def _unblock(self) -> None:
        self.blocked = False
        if self.closing or self.transport is None:
            return
        self.transport.resume_reading()
        held, self.held = self.held, []
        self._drain()
        for data in held:
            self.data_received(data)

    def _flush(self) -> None:
        out = self._out
        if out and self.transport is not None and not self.closing:
            self.transport.write(out[0] if len(out) == 1 else b"".join(out))
        out.clear()

    def _protocol_error(self, text: str) -> None:
        if self.transport is not None and not self.closing:
            self.transport.write(error(text))
            self.closing = True
            self.transport.close()

    def close_after_reply(self) -> None:
        """QUIT / CLIENT KILL: answer what was asked, then close."""
        self.closing = True
        if self.transport is not None:
            self._flush()
            asyncio.get_running_loop().call_soon(self.transport.close)

    # --- MULTI / WATCH helpers ---------------------------------------------------------

    def watch_snapshot(self, key: bytes) -> tuple[int, int] | None:
        rec = self.engine.namespace_for(key).get(key)
        return None if rec is None else (rec.gen, rec.lut)

    def watch_dirty(self) -> bool:
        return any(self.watch_snapshot(k) != snap for k, snap in self.watched.items())


def _all_bulk(args: list[Any]) -> bool:
    try:
        b"".join(args)
    except TypeError:
        return False
    return True
