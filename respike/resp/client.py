"""One client connection: read commands, execute them in order, answer in order.

All complete commands of one read are executed and answered with one write. A command
may answer later (a proxied or replicated write, a blocking pop): its reply holds the
place of every reply after it, and a *blocking* one also stops this connection from
executing anything else until it is answered, as in Redis.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable
from time import perf_counter_ns
from time import time_ns as _time_ns
from typing import TYPE_CHECKING, Any

import hiredis

from ..engine.engine import Ack
from ..engine.namespace import Router
from ..errors import (
    NOAUTH,
    RecordError,
    RedisError,
    subscribed_only,
    unknown_command,
    wrong_arity,
)
from .encode import QUEUED, error
from .reader import ProtocolError, RequestReader
from .stats import SAMPLE_EVERY

if TYPE_CHECKING:
    from .server import RespServer

log = logging.getLogger("respike.resp")

# Commands a MULTI does not queue.
_NOT_QUEUED = frozenset({"exec", "discard", "multi", "watch", "quit", "reset"})
HELD_LIMIT = 1 << 20
# Output limits (client-output-buffer-limit) and the work done per loop turn. The hot loop
# adds up the sizes of its replies only on its slow branch (every SAMPLE_EVERY-th command,
# and every command that is not an O(1) one), and only when OUT_LOOK replies were added
# since they were last added up, the reply at hand is large, or recent replies were: a
# pipeline of small replies pays next to nothing per command. While replies are LARGE_REPLY bytes or more on
# average, every LARGE_EVERY-th command takes the slow branch (and is timed).
OUT_LOOK = 64
LARGE_REPLY = 32 << 10
LARGE_EVERY = 2
# Replies one connection collects in one loop turn before they are written and the loop is
# given back to the other connections (the rest of the batch runs on the next turn): copying
# a large value thousands of times in one turn would stall every other client.
TURN_BYTES = 2 << 20
_NO_AUTH_NEEDED = frozenset({"auth", "hello", "quit", "reset"})
# What a RESP2 connection in subscribed mode may run (Redis's processCommand).
_SUBSCRIBED_OK = frozenset(
    {"ping", "subscribe", "ssubscribe", "unsubscribe", "sunsubscribe", "psubscribe"}
    | {"punsubscribe", "quit", "reset"}
)


class Held:
    """A reply held until acknowledgements (device sync, replicas) complete; a failed one
    becomes this command's error. Cheaper than a Task per write on the hot path.

    Consecutive writes of one connection that wait on the same acknowledgements (one
    group commit) share a Held: `joined` collects their replies (each of those commands
    gets the error if the acknowledgement fails; with `writes`, only the replies at
    those positions do, the others are reads that queued behind them)."""

    __slots__ = ("reply", "waits", "joined", "writes")

    def __init__(self, reply: Any, waits: list):
        self.reply = reply
        self.waits = waits
        self.joined: list[bytes] | None = None  # [reply, the replies that joined it...]
        self.writes: list[int] | None = None

    def join(self, reply: bytes) -> None:
        """Answer one more command (whose write waits on the same acknowledgements)."""
        if self.joined is None:
            self.joined = [self.reply]
        if self.writes is not None:
            self.writes.append(len(self.joined))
        self.joined.append(reply)

    @property
    def count(self) -> int:
        """How many commands this answers."""
        return 1 if self.joined is None else len(self.joined)

    def pending(self) -> asyncio.Future | None:
        """The first acknowledgement or reply not ready yet; None once all are."""
        for w in self.waits:
            if not w.done():
                return w
        reply = self.reply
        if reply.__class__ is bytes:
            return None
        if reply.__class__ is Held:
            return reply.pending()
        if not isinstance(reply, asyncio.Future):  # a coroutine: runs once the waits are done
            reply = self.reply = asyncio.ensure_future(reply)
        return None if reply.done() else reply

    def cancel(self) -> None:
        """The client left: stop its own reply (the waits are shared with other writes)."""
        reply = self.reply
        if reply.__class__ is Held or isinstance(reply, asyncio.Future):
            reply.cancel()
        elif reply.__class__ is not bytes:
            reply.close()  # a coroutine that never started

    def result(self) -> bytes:
        for w in self.waits:
            w.result()
        reply = self.reply
        if reply.__class__ is bytes:
            return reply if self.joined is None else b"".join(self.joined)
        return reply.result()

    async def wait(self) -> bytes:
        for w in self.waits:
            await w
        reply = self.reply
        if reply.__class__ is bytes:
            return reply if self.joined is None else b"".join(self.joined)
        if reply.__class__ is not Held and not isinstance(reply, asyncio.Future):
            reply = self.reply = asyncio.ensure_future(reply)
        return await reply

    def __await__(self):
        return self.wait().__await__()


def _result(item: Any) -> bytes:
    """The bytes of a completed deferred reply (an error reply if it failed)."""
    try:
        return item.result()
    except (RedisError, RecordError) as exc:
        text = error(exc.text if isinstance(exc, RedisError) else exc.reply_text())
        if item.__class__ is not Held:
            return text
        joined = item.joined
        return (
            _failed_writes(joined, item.writes, text)
            if item.writes and joined
            else text * item.count
        )
    except asyncio.CancelledError:
        return b""
    except Exception:
        log.exception("deferred reply failed")
        return error("ERR internal error (see the server log)")


def _failed_writes(replies: list[bytes], writes: list[int], text: bytes) -> bytes:
    """Replies of which the writes at `writes` failed to be acknowledged."""
    for i in writes:
        replies[i] = text
    return b"".join(replies)


class Blocking:
    """A reply that arrives later and blocks the connection until it does."""

    __slots__ = ("awaitable",)

    def __init__(self, awaitable: Awaitable[bytes]):
        self.awaitable = awaitable


class Client:
    """An asyncio protocol (uvloop takes any object with the protocol's methods; this one
    is a compiled class, so no base class)."""

    def __init__(self, server: RespServer):
        self.server = server
        self.engine = server.engine
        self.commands: dict[Any, Any] = server.table.by_bytes  # (keys may be any RESP element)
        self.id = server.next_client_id()
        self.proto = 2
        self.name = b""
        self.lib_name = b""
        self.lib_ver = b""
        self.waits = server.engine.waits
        self.clock = server.engine.clock
        self.router: Router = server.engine.router  # (typed: commands call it natively)
        self._multi: list[list[bytes]] | None = None
        self._authenticated = not server.node_config["requirepass"]
        self.tracking: Any = None  # CLIENT TRACKING ON's options (resp/tracking.py)
        self._pubsub_mode = False  # has a subscription (resp/pubsub.py keeps it)
        self._update_special()
        self.multi_failed = False
        self.watched: dict[bytes, tuple[int, int] | None] = {}
        self.cluster_aware = False
        self.readonly = False
        self.asking = False
        self.closing = False
        self.commands_done = 0
        self.created = server.engine.clock.ms
        self.last_active = self.created
        self.transport: Any = None
        self.addr = self.laddr = "?:0"
        self.reader = RequestReader(server.node_config["proto-max-bulk-len"])
        self._out: list[bytes] = []
        # While `gate` (an engine Ack) is set, `_out` holds replies that wait for it (the
        # writes among them at `_gate_writes`) and `_pre` the ones before it.
        self.gate: Any = None
        self._pre: list[bytes] = []
        self._gate_writes: list[int] = []
        self.unflushed = False  # waits in server.flush_later for its replies to be written
        self._hot: dict[Any, tuple[Any, Any, int]] = server.table.hot
        # Replies waiting behind one that is not ready yet; None when nothing waits.
        self.queue: deque[Any] | None = None
        self.blocked = False
        self.held: list[bytes] = []
        self.held_size = 0
        self.in_exec = False  # a queued command is running inside EXEC
        self.proxied = False  # runs commands another node forwarded (see cluster/service.py)
        self.last_write: tuple[int, int] | None = None  # (replication txn, replicas), for WAIT
        self._chunk = b""
        self._done = 0
        self._last: list[Any] | None = None
        self._countdown = 1
        # Unsent replies (see `output_size`): `_out_size` bytes in `_out[:_counted]`, the
        # bytes in `_pre` and the bytes in `queue`.
        self._counted = 0
        self._out_size = 0
        self._pre_size = 0
        self._queued_size = 0
        self.soft_since = 0  # clock ms since the output has been past its soft limit (0: not)
        self.writing_paused = False  # the transport holds more than its high-water mark
        self.yielded = False  # gave the loop back in the middle of a batch (`_resume`)
        self.large = False  # the replies counted last were LARGE_REPLY bytes on average

    # --- asyncio.Protocol --------------------------------------------------------------

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
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
        if self.queue is not None:  # nobody will read these replies: stop waiting for them
            for item in self.queue:
                if item.__class__ is not bytes:
                    item.cancel()

    def eof_received(self) -> None:
        return None  # (the transport closes itself)

    def pause_writing(self) -> None:
        """The peer does not read as fast as it is answered. With a hard output limit for
        its class, keep reading and executing, as Redis does: the limit bounds the replies
        (and closes a client that never reads, instead of leaving it stuck holding them);
        without one, stop reading until the replies drain."""
        self.writing_paused = True
        self.server.backlogged(self)
        if self.transport is not None and not self.output_limits()[0]:
            self.transport.pause_reading()

    def resume_writing(self) -> None:
        self.writing_paused = False
        self.soft_since = 0
        if self.transport is not None and not self.blocked and not self.yielded:
            self.transport.resume_reading()

    def data_received(self, data: bytes) -> None:
        if self.closing or self.blocked or self.yielded:
            self._held(data)
            return
        reader = self.reader
        if reader.feed_fast(data):  # the common case, kept to as few calls as possible
            self._chunk, self._done, self._last = data, 0, None
            clock = self.clock
            clock.ms = self.last_active = _time_ns() // 1_000_000 + clock.offset_ms
            self._drain_fast()
            if reader.fast:
                if self._out and not self.unflushed and (self.gate is None or self._pre):
                    self.unflushed = True
                    self.server.flush_later(self)
                return
        else:
            try:
                reader.feed(data)
            except ProtocolError as exc:
                self._protocol_error(str(exc))
                return
        self._drain()

    def _held(self, data: bytes) -> None:
        if self.closing:
            return
        if self.blocked or self.yielded:
            # Keep reading while blocked (so a peer that leaves is noticed at once), but
            # stop once a blocked client has sent more than HELD_LIMIT bytes ahead.
            self.held.append(data)
            self.held_size += len(data)
            if self.held_size > HELD_LIMIT and self.transport is not None:
                self.transport.pause_reading()

    # --- the command loop --------------------------------------------------------------

    def _drain(self) -> None:
        clock = self.clock
        clock.ms = self.last_active = _time_ns() // 1_000_000 + clock.offset_ms
        reader = self.reader
        if reader.fast and self._chunk:
            self._drain_fast()
        if not reader.fast:
            while not self.blocked and not self.closing and not self.yielded:
                try:
                    cmd = reader.get()
                except ProtocolError as exc:
                    self._flush()
                    self._protocol_error(str(exc))
                    return
                if cmd is None:
                    break
                self.commands_done += 1
                self._last = cmd
                self._reply(self.execute(cmd))
                if self._output_full():
                    break
            if reader.fast and self._chunk and not self.yielded:
                self._drain_fast()
        if self._out:
            self._flush()

    def _drain_fast(self) -> None:
        """The connection's hot loop: hiredis parses, the command runs, replies collect
        for one write. The common case (known command, right arity, nothing special about
        the connection) is dispatched inline; everything else goes through `execute`."""
        reader = self.reader
        gets = reader.hiredis.gets
        hot = self._hot
        out = self._out
        waits = self.waits
        done: int = self._done
        last = self._last
        start = done
        countdown: int = self._countdown  # time one command in SAMPLE_EVERY (see resp/stats.py)
        # Only commands that go through `execute` can change these two.
        special: bool = self.special
        queued: bool = self.queue is not None
        while not self.closing:
            try:
                cmd = gets()
            except hiredis.ProtocolError:
                cmd = None
            if cmd is False:
                reader.end_fast(self._chunk, done, last)
                self._chunk = b""
                break
            if type(cmd) is not list or not cmd:
                if cmd == []:  # *0: ignored, as Redis does
                    done += 1
                    continue
                reader.fast_failed(self._chunk, done)  # not an array: re-parse exactly
                self._chunk = b""
                break
            done += 1
            last = cmd
            entry = hot.get(cmd[0])
            countdown -= 1
            if entry is not None and not special and countdown > 0:
                spec, handler, arity = entry
                n = len(cmd)
                if n == arity or (arity < 0 and n >= -arity):
                    spec.calls += 1
                    try:
                        reply = handler(self, cmd)
                    except Exception as exc:
                        reply = self._failed(spec, exc, cmd)
                    if waits:
                        reply = self._after_waits(reply)
                        if reply is None:  # joined the held reply before it
                            continue
                    if type(reply) is bytes and not queued:
                        out.append(reply)
                        continue
                    self._reply(reply)
                    queued = self.queue is not None
                    if self.blocked:
                        break
                    continue
            reply = self.execute(cmd)
            if countdown <= 0:
                countdown = SAMPLE_EVERY
            special = self.special
            if type(reply) is bytes and self.queue is None:
                out.append(reply)
                if len(out) >= self._counted + OUT_LOOK or len(reply) >= LARGE_REPLY or self.large:
                    stop = self._output_full()
                    if self.large:
                        countdown = LARGE_EVERY
                    if stop:
                        break
            else:
                self._reply(reply)
                if self.blocked or self.yielded:
                    break
            queued = self.queue is not None
        self._done, self._last = done, last
        self._countdown = countdown
        self.commands_done += done - start

    def _gated(self, ack: Any, reply: bytes) -> bool:
        """Queue a write's reply behind `ack` (a device's group commit) in the output list,
        if it can wait there: this connection's replies already wait on it, or nothing else
        is held (the caller found no reply queue) and they start now. One registration per
        connection and commit; see engine.Ack."""
        if self.in_exec:
            return False
        if self.gate is not ack:
            if self.gate is not None or type(ack) is not Ack:
                return False
            self.gate = ack
            ack.listeners.append(self)
            if self._out:
                self._pre_size += self._count_out()
                self._pre.extend(self._out)
                self._out.clear()
                self._out_size = self._counted = 0
        self._gate_writes.append(len(self._out))
        self._out.append(reply)
        return True

    def execute(self, args: list[Any]) -> Any:
        """Run one command; returns encoded reply bytes, an awaitable, or a Blocking."""
        cmd = self.commands.get(args[0])
        if cmd is None:
            if args[0].__class__ is not bytes:
                return self._not_bulk(args)
            cmd = self.server.table.lookup(args[0])
            if cmd is None:
                if not all(a.__class__ is bytes for a in args):
                    return self._not_bulk(args)
                return self._reject(unknown_command(args[0], args[1:]))
        argc = len(args)
        if argc != cmd.arity and (cmd.arity > 0 or argc < cmd.min_args):
            cmd.rejected_calls += 1
            return self._reject(wrong_arity(cmd.name))
        if self.special:
            early = self._special(cmd, args)
            if early is not None:
                return early
        return self._timed(cmd, args)

    def _timed(self, cmd, args: list[Any]) -> Any:
        """Run a command, timing it for its latency histogram and the slow log."""
        cmd.calls += 1
        start = perf_counter_ns()
        server = self.server
        observed = server.notifier is not None or server.tracking.count > 0
        if observed:
            server.command_started(self)
        try:
            reply = cmd.handler(self, args)
        except Exception as exc:
            reply = self._failed(cmd, exc, args)
        if observed:
            server.command_done(self, cmd, args)
        if self.waits:
            reply = self._after_waits(reply)
        usec = (perf_counter_ns() - start) // 1000
        cmd.latency.add(usec)
        if usec >= self.server.slowlog_threshold >= 0 and not cmd.self_logged:
            self.server.slowlog.add(
                usec, args, self.addr, self.name, self.server.node_config["slowlog-max-len"]
            )
        return reply

    def _failed(self, cmd, exc: Exception, args: list) -> bytes:
        """A command's error as its reply; anything unexpected is logged, never sent raw."""
        cmd.failed_calls += 1
        if isinstance(exc, RedisError):
            return error(exc.text)
        if isinstance(exc, RecordError):
            return error(exc.reply_text())
        if not all(a.__class__ is bytes for a in args):
            return self._not_bulk(args)
        log.error("command %s failed", cmd.name, exc_info=exc)
        return error(f"ERR internal error while running '{cmd.name}' (see the server log)")

    def _not_bulk(self, args: list) -> bytes:
        """An element that is not a bulk string (hiredis parsed it): Redis's protocol error.

        The fast path does not check every element's type up front; a command that trips
        over such an element ends up here, and the connection is closed as Redis would."""
        bad = next(a for a in args if a.__class__ is not bytes)
        kind = {int: ":", list: "*", float: ",", bool: "#", dict: "%"}.get(bad.__class__, "-")
        text = (
            "ERR Protocol error: invalid bulk length"
            if bad is None
            else (f"ERR Protocol error: expected '$', got '{kind}'")
        )
        self._flush()
        self._protocol_error(text)
        return b""

    def _special(self, cmd, args: list[Any]) -> Any:
        """Authentication, MULTI queueing and cluster routing; None = run it here."""
        if not self._authenticated and cmd.name not in _NO_AUTH_NEEDED:
            cmd.rejected_calls += 1
            return self._reject(NOAUTH)
        if self._pubsub_mode and self.proto == 2 and cmd.name not in _SUBSCRIBED_OK:
            cmd.rejected_calls += 1
            sub = self.server.table.resolve(args)
            return self._reject(subscribed_only((sub or cmd).name))
        if self._multi is not None and cmd.name not in _NOT_QUEUED:
            self._multi.append(args)
            return QUEUED
        if self.server.route is not None and cmd.keyed:
            try:
                reply = self.server.route(self, cmd, args)
            except RedisError as exc:
                reply = error(exc.text)
            except RecordError as exc:
                reply = error(exc.reply_text())
            if reply is not None and self.tracking is not None:
                reply = self.server.routed(self, cmd, args, reply)
            return reply
        return None

    @property
    def last_command(self) -> str:
        cmd = self.server.table.resolve(self._last) if self._last else None
        return cmd.name if cmd is not None else "NULL"

    # `special` is true whenever `execute` must look beyond the command itself.
    @property
    def multi(self) -> list[list[bytes]] | None:
        return self._multi

    @multi.setter
    def multi(self, value: list[list[bytes]] | None) -> None:
        self._multi = value
        self._update_special()

    @property
    def authenticated(self) -> bool:
        return self._authenticated

    @authenticated.setter
    def authenticated(self, value: bool) -> None:
        self._authenticated = value
        self._update_special()

    @property
    def pubsub_mode(self) -> bool:
        """True while the connection has any subscription (channel, pattern or shard)."""
        return self._pubsub_mode

    @pubsub_mode.setter
    def pubsub_mode(self, value: bool) -> None:
        self._pubsub_mode = value
        self._update_special()

    def _update_special(self) -> None:
        # Notifications name each command's changes, tracking remembers what this
        # connection reads: both need every command to go through `execute`.
        self.special = (
            not self._authenticated
            or self._multi is not None
            or self.server.route is not None
            or self.server.notifier is not None
            or self.tracking is not None
            or self._pubsub_mode
        )

    def _after_waits(self, reply: Any) -> Any:
        """Hold a write's reply until storage and replicas acknowledged it (a failed
        acknowledgement becomes this command's error reply). None: the reply joined the
        held reply queued just before it, which waits for the same acknowledgements."""
        pending = self.waits
        if self.engine.last_replication is not None:  # for WAIT
            self.last_write, self.engine.last_replication = self.engine.last_replication, None
        throttle = pending.throttle  # a device is short of free blocks: stop this pipeline too
        if throttle:
            pending.throttle = False
        elif self.queue is None:
            if reply.__class__ is bytes and len(pending) == 1 and self._gated(pending[0], reply):
                pending.clear()
                return None
        elif self.queue and reply.__class__ is bytes and not self.in_exec:
            last = self.queue[-1]
            if last.__class__ is Held and last.reply.__class__ is bytes and last.waits == pending:
                last.join(reply)
                pending.clear()
                return None
        held = Held(reply, list(pending))
        pending.clear()
        return Blocking(held) if throttle and not self.in_exec and not self.proxied else held

    def acked(self, ack: Ack) -> None:
        """The group commit this connection's replies wait on is done (or failed)."""
        if self.gate is not ack:
            return
        self.gate = None
        if ack.exception() is not None:
            self._out[:] = [_result(self._gate_held(ack))]
        self._gate_writes.clear()
        self._flush()  # now: the commit releases its connections back to back anyway

    def _gate_held(self, ack: Ack) -> Held:
        """The gated replies as one Held (for the reply queue, or to fail them)."""
        held = Held(b"", [ack])
        held.joined, held.writes = self._out[:], self._gate_writes[:]
        self._out.clear()
        self._out_size = self._counted = 0
        self._gate_writes.clear()
        return held

    def _ungate(self) -> None:
        """A reply that is not plain bytes (or waits on something else) comes next: the
        gated replies go to the head of the general reply queue as one Held."""
        self._flush()  # what is ahead of the gate
        ack, self.gate = self.gate, None
        held = self._gate_held(ack)
        self.queue = deque((held,))
        self._wait_for(held)

    def _reject(self, text: str) -> bytes:
        if self.multi is not None:
            self.multi_failed = True
        return error(text)

    # --- replies -----------------------------------------------------------------------

    def _reply(self, reply: Any) -> None:
        if reply is None:  # see _after_waits
            return
        if reply.__class__ is bytes:
            if self.queue is None:
                self._out.append(reply)
            else:
                self.queue.append(reply)
                self._queued_size += len(reply)
                if self._queued_size >= self.server.output_look:
                    self.check_output()
            return
        if self.gate is not None:
            self._ungate()
        self._flush()
        if reply.__class__ is Blocking:
            self.blocked = True
            reply = reply.awaitable
        if reply.__class__ is not Held:
            reply = asyncio.ensure_future(reply)
        if self.queue is None:
            self.queue = deque((reply,))
            if not self._wait_for(reply):
                asyncio.get_running_loop().call_soon(self._pump)
        else:
            self.queue.append(reply)

    def _wait_for(self, item: Any) -> bool:
        """Have `_pump` called once `item` is ready; False if it is ready now.

        A callback on the future, not a Task per held reply: a group commit releases
        many connections at once, and this is each one's whole cost."""
        pending = item.pending() if item.__class__ is Held else (None if item.done() else item)
        if pending is None:
            return False
        pending.add_done_callback(self._pump)
        return True

    def _pump(self, _ready: Any = None) -> None:
        """Write queued replies in order as they become ready; everything ready at once
        goes out in one write (a group commit releases a whole batch together)."""
        queue = self.queue
        if queue is None:
            return
        ready: list[bytes] = []
        while queue:
            item = queue[0]
            if item.__class__ is not bytes and self._wait_for(item):
                self._write(ready)
                return
            queue.popleft()
            if item.__class__ is bytes:
                self._queued_size -= len(item)
            ready.append(item if item.__class__ is bytes else _result(item))
            if self.blocked and not any(i.__class__ is not bytes for i in queue):
                self._write(ready)
                self._unblock()
        self._write(ready)
        self.queue = None
        self._queued_size = 0
        if self.blocked:
            self._unblock()

    def push(self, frame: bytes) -> None:
        """Send an out-of-band frame (a pub/sub message, a RESP3 push): it goes out with
        this loop iteration's replies, ahead of any reply still waiting (as Redis writes
        it into the output buffer at once), never inside one. While this connection runs
        a command, the frame precedes that command's reply, as in Redis."""
        if self.closing:
            return
        if self.gate is not None:
            self._pre.append(frame)
            self._pre_size += len(frame)
        else:
            self._out.append(frame)
        if not self.unflushed:
            self.unflushed = True
            self.server.flush_later(self)
        if self.writing_paused:  # the peer is not reading: its output limits apply now
            self.check_output()

    def _write(self, ready: list[bytes], large: bool = False) -> None:
        """One write of `ready`; `large` ones are handed over as they are (no copy)."""
        if ready and not self.closing and self.transport is not None:
            if large:
                self.transport.writelines(ready)
            else:
                self.transport.write(b"".join(ready))
        ready.clear()

    def _unblock(self) -> None:
        self.blocked = False
        if self.closing or self.transport is None:
            return
        self.transport.resume_reading()
        held, self.held, self.held_size = self.held, [], 0
        self._drain()
        for data in held:
            self.data_received(data)

    def _flush(self, large: bool = False) -> None:
        """Write the replies ready to go: while a gate is up, only those ahead of it."""
        pre = self._pre
        if self.gate is not None:
            self._write(pre, large)
            self._pre_size = 0
        elif pre:
            pre.extend(self._out)
            self._out.clear()
            self._write(pre, large)
            self._pre_size = self._out_size = self._counted = 0
        else:
            self._write(self._out, large)
            self._out_size = self._counted = 0

    # --- output limits (client-output-buffer-limit) ---------------------------------------

    def _count_out(self) -> int:
        """Bytes of the replies in `_out`, adding up only those not counted before."""
        out = self._out
        n = len(out)
        i = counted = self._counted
        if n > counted:
            added = 0
            while i < n:  # (compiled: a native loop over the list, no calls)
                added += len(out[i])
                i += 1
            self.large = added >= LARGE_REPLY * (n - counted)
            self._out_size += added
            self._counted = n
        return self._out_size

    def output_size(self) -> int:
        """Bytes of replies not sent yet: what the transport could not write to the socket,
        plus the replies collected (in this batch, behind a group commit, or queued behind
        a reply that is not ready) and not handed to the transport yet."""
        size = self._count_out() + self._pre_size + self._queued_size
        transport = self.transport
        return size if transport is None else size + transport.get_write_buffer_size()

    def _output_full(self) -> bool:
        """Looked at every few replies of a batch: True = stop executing it, because the
        connection passed its output limit (it is closed) or collected TURN_BYTES of
        replies in this loop turn (they are written, and the batch goes on next turn)."""
        pending = self._count_out() + self._pre_size + self._queued_size
        if pending < self.server.output_look and not self.writing_paused:
            return False
        turn = pending >= TURN_BYTES
        if turn:
            self._flush(True)
        if self.check_output():
            return True
        if turn:
            self.yielded = True
            (self.server.loop or asyncio.get_running_loop()).call_soon(self._resume)
        return turn

    def _resume(self) -> None:
        """Go on with the batch `_output_full` stopped, then with what arrived since."""
        self.yielded = False
        if self.closing or self.transport is None:
            return
        held, self.held, self.held_size = self.held, [], 0
        if not self.writing_paused and not self.blocked:
            self.transport.resume_reading()  # (paused by `_held` or by a resume_writing missed)
        self._drain()
        for data in held:
            self.data_received(data)

    def output_class(self) -> str:
        """The client-output-buffer-limit class: `pubsub` while subscribed, else `normal`."""
        return "pubsub" if self._pubsub_mode else "normal"

    def output_limits(self) -> tuple[int, int, int]:
        """(hard bytes, soft bytes, soft seconds) of this connection's class."""
        return self.server.node_config["client-output-buffer-limit"][self.output_class()]

    def check_output(self) -> bool:
        """Close the connection if its unsent replies passed its class's hard limit, or its
        soft limit for longer than the soft limit's seconds (Redis's
        checkClientOutputBufferLimits); True if it is closed. Called as replies collect,
        and by RespServer for connections whose transport is backlogged."""
        if self.closing or self.transport is None:
            return self.closing
        hard, soft, seconds = self.output_limits()
        size = self.output_size()
        if hard and size >= hard:
            self._close_for_output(size, "hard")
            return True
        if soft and size >= soft:
            now = _time_ns() // 1_000_000
            if not self.soft_since:
                self.soft_since = now
            elif now - self.soft_since > seconds * 1000:
                self._close_for_output(size, "soft")
                return True
        else:
            self.soft_since = 0
        return False

    def _close_for_output(self, size: int, which: str) -> None:
        """Close at once, dropping every unsent reply (Redis closes such a client
        asynchronously and writes nothing more to it)."""
        log.warning(
            "client id=%d addr=%s name=%s closed for overcoming of output buffer limits "
            "(%d bytes unsent, %s limit of class %s)",
            self.id,
            self.addr,
            self.name.decode("utf-8", "replace"),
            size,
            which,
            self.output_class(),
        )
        self.server.output_limit_disconnections += 1
        self.closing = True
        self._out.clear()
        self._pre.clear()
        self.held.clear()
        self._out_size = self._counted = self._pre_size = self.held_size = 0
        if self.transport is not None:
            self.transport.abort()

    def _protocol_error(self, text: str) -> None:
        self._flush()
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
