"""The RESP service: listening socket, connected clients, and what commands share."""

from __future__ import annotations

import asyncio
import itertools
import os
import socket
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..config import NOTIFY_KEYEVENT, NOTIFY_KEYSPACE, notify_flags
from .client import TURN_BYTES, Client
from .notify import Notifier
from .pubsub import PubSub
from .stats import SlowLog
from .table import CommandTable
from .tracking import Tracking

if TYPE_CHECKING:
    from ..engine.engine import Engine
    from .table import Command

# route(client, command, args) -> None to run locally, else the reply (bytes or awaitable).
Router = Callable[[Client, "Command", list[bytes]], Any]
InfoSection = Callable[[], dict[str, Any]]
# cluster_publish(channel, message, local receivers) -> the cluster-wide count, later.
ClusterPublish = Callable[[bytes, bytes, int], Any]

# Seconds between checks of the output limits of connections whose replies pile up in their
# transport (the peer does not read): what catches replies written outside a batch, such as
# pub/sub messages, and a soft limit's time running out.
BACKLOG_PERIOD = 0.05


class RespServer:
    def __init__(self, engine: Engine, table: CommandTable, node_config: dict[str, Any], node: Any):
        self.engine = engine
        self.table = table
        self.node_config = node_config
        self.node = node
        self.clients: dict[int, Client] = {}
        self.route: Router | None = None
        self.pubsub = PubSub()
        self.cluster_publish: ClusterPublish | None = None  # set while clustered
        self.info_sections: dict[str, InfoSection] = {}
        self.waiters: Any = None  # clients blocked on list keys (resp/commands/lists.py)
        self.slowlog = SlowLog()
        self.slowlog_threshold = node_config["slowlog-log-slower-than"]
        self.started = time.time()
        self.connections_received = 0
        self.rejected_connections = 0
        self.output_limit_disconnections = 0
        self.output_look = TURN_BYTES  # see configure_output
        self._backlogged: dict[int, Client] = {}
        self._backlog_timer: asyncio.TimerHandle | None = None
        self.configure_output()
        self._ids = itertools.count(1)
        self._server: asyncio.base_events.Server | None = None
        self._unflushed: list[Client] = []
        self.newcomers: list[Any] = []  # accepted while a script was busy (resp/busy.py)
        self._listeners: list[socket.socket] | None = None
        # Bound at start: asyncio.get_running_loop() costs a getpid() system call each time.
        self.loop: asyncio.AbstractEventLoop | None = None
        # Keyspace notifications and client tracking (resp/notify.py, resp/tracking.py):
        # the engine's change listener is installed only while either wants it.
        self.tracking = Tracking(self.clients)
        self.notifier: Notifier | None = None
        self.mastered: Callable[[bytes], bool] | None = None  # set while clustered
        self.holds: Callable[[bytes], bool] | None = None  # (master or replica copy here)
        self._idle_scheduled = False
        self.set_notify(node_config["notify-keyspace-events"])

    # --- keyspace notifications and tracking ---------------------------------------------

    def set_notify(self, text: str) -> None:
        """notify-keyspace-events changed: notify by these classes (none without K or E)."""
        flags = notify_flags(text)
        wanted = flags & (NOTIFY_KEYSPACE | NOTIFY_KEYEVENT) and flags & ~(
            NOTIFY_KEYSPACE | NOTIFY_KEYEVENT
        )
        if not wanted:
            self.notifier = None
        elif self.notifier is None:
            self.notifier = Notifier(flags, self._publish)
            self.notifier.mastered = self.mastered
        else:
            self.notifier.flags = flags
        self.listen()
        for client in self.clients.values():
            client._update_special()

    def set_mastered(
        self,
        mastered: Callable[[bytes], bool] | None,
        holds: Callable[[bytes], bool] | None = None,
    ) -> None:
        """Clustered: notify only for keys whose partition this node masters; `holds`
        says whether a copy of the key is here (its changes reach this node)."""
        self.mastered = mastered
        self.holds = holds
        if self.notifier is not None:
            self.notifier.mastered = mastered

    def listen(self) -> None:
        """Install (or remove) the engine's change listener on every namespace."""
        on = self.notifier is not None or self.tracking.count > 0
        for ns in self.engine.namespaces.values():
            ns.on_change = self._changed if on else None

    def _publish(self, channel: bytes, message: bytes) -> None:
        self.pubsub.publish(channel, message)

    def _changed(self, key: bytes | None, what: int) -> None:
        if self.tracking.count:
            self.tracking.changed(key, what)
        notifier = self.notifier
        if notifier is not None:
            notifier.changed(key, what)
            if not self._idle_scheduled:  # changes no command names (nsup, ...)
                self._idle_scheduled = True
                (self.loop or asyncio.get_running_loop()).call_soon(self._notify_idle)

    def _notify_idle(self) -> None:
        self._idle_scheduled = False
        if self.notifier is not None:
            self.notifier.idle()

    def command_started(self, client: Client) -> None:
        self.tracking.current = client

    def command_done(self, client: Client, cmd: Command, args: list[bytes]) -> None:
        """After each command run through Client.execute (or a script's redis.call):
        name its key changes for the notifications; remember the keys a tracking
        connection read; CLIENT CACHING applies to the next command only."""
        if self.notifier is not None:
            self.notifier.command_done(cmd.name, args)
        state = client.tracking
        if state is not None:
            if cmd.readonly and not state.bcast:
                self.tracking.remember(client, [args[i] for i in cmd.key_positions(args)])
            if state.caching and cmd.name != "client" and client.multi is None:
                state.caching = False  # (kept across CLIENT commands and MULTI, as Redis)
        self.tracking.current = None

    def routed(self, client: Client, cmd: Command, args: list[bytes], reply: Any) -> Any:
        """A tracking connection's command that cluster routing answered (proxied to the
        key's master): `command_done` does not see it, so remember its keys here, before
        the answer comes (a change meanwhile invalidates). A copy held here (a replica's)
        is invalidated when the master's write arrives; a key with no copy here changes
        out of this node's sight, so its invalidation follows the reply at once (the
        client may not cache it) rather than never."""
        state = client.tracking
        keys = self._keys(cmd, args)
        remembered = cmd.readonly and not state.bcast and self.tracking.remember(client, keys)
        if state.caching and client.multi is None:
            state.caching = False  # (CLIENT CACHING applies to this command only)
        holds = self.holds
        away = [k for k in keys if holds is not None and not holds(k)]
        if not remembered or not away:
            return reply
        if reply.__class__ is bytes:  # -MOVED, an error: nothing was read
            self.tracking.forget(client, away, tell=False)
            return reply
        return self._invalidate_after(client, away, reply)

    @staticmethod
    def _keys(cmd: Command, args: list[bytes]) -> list[bytes]:
        return [args[i] for i in cmd.key_positions(args)]

    async def _invalidate_after(self, client: Client, keys: list[bytes], reply: Any) -> bytes:
        got = await reply
        return got + self.tracking.forget(client, keys)

    def flush_later(self, client: Client) -> None:
        """Write `client`'s replies once this loop iteration has read every ready
        connection, as Redis does before it sleeps: replies to many connections go out
        back to back, so a client process waiting on them is woken once, not once per
        reply (each wake-up costs the writer several microseconds of kernel time)."""
        if not self._unflushed:
            (self.loop or asyncio.get_running_loop()).call_soon(self.flush_all)
        self._unflushed.append(client)

    def flush_all(self) -> None:
        clients, self._unflushed = self._unflushed, []
        for client in clients:
            client.unflushed = False
            client._flush()

    def configure_output(self) -> None:
        """After client-output-buffer-limit changed: a batch's replies are looked at once
        they reach the smallest limit (or TURN_BYTES, when the loop is given back)."""
        limits = self.node_config["client-output-buffer-limit"]
        sizes = [n for c in ("normal", "pubsub") for n in limits[c][:2] if n]
        self.output_look = min([TURN_BYTES, *sizes])

    def backlogged(self, client: Client) -> None:
        """`client`'s transport holds more than its high-water mark: check its output
        limits every BACKLOG_PERIOD until it drains (or the connection is closed)."""
        self._backlogged[client.id] = client
        if self._backlog_timer is None:
            loop = self.loop or asyncio.get_running_loop()
            self._backlog_timer = loop.call_later(BACKLOG_PERIOD, self._check_backlogged)

    def _check_backlogged(self) -> None:
        self._backlog_timer = None
        for client in list(self._backlogged.values()):
            if client.closing or not client.writing_paused or client.check_output():
                del self._backlogged[client.id]
        if self._backlogged:
            loop = self.loop or asyncio.get_running_loop()
            self._backlog_timer = loop.call_later(BACKLOG_PERIOD, self._check_backlogged)

    def listeners(self) -> list[socket.socket]:
        """Non-blocking copies of the listening sockets, for accepting while the loop is
        held by a busy script."""
        if self._listeners is None:
            self._listeners = []
            for s in self._server.sockets if self._server is not None else []:
                copy = socket.socket(s.family, s.type, s.proto, os.dup(s.fileno()))
                copy.setblocking(False)
                self._listeners.append(copy)
        return self._listeners

    def client_for(self, reader: Any) -> Client:
        """A client taking over a connection accepted while a script was busy."""
        client = Client(self)
        client.reader = reader
        return client

    def next_client_id(self) -> int:
        return next(self._ids)

    def register(self, client: Client) -> bool:
        self.connections_received += 1
        if len(self.clients) >= self.node_config["maxclients"]:
            self.rejected_connections += 1
            return False
        self.clients[client.id] = client
        return True

    def unregister(self, client: Client) -> None:
        if client.tracking is not None:
            self.tracking.disable(client)
            self.listen()
        if client.pubsub_mode:
            self.pubsub.drop(client)
        if self.clients.pop(client.id, None) is not None:
            self.node.commands_done += client.commands_done

    async def start(self, host: str, port: int) -> None:
        loop = self.loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: Client(self), host, port, backlog=511, reuse_address=True
        )

    async def stop(self) -> None:
        for s in self._listeners or []:
            s.close()
        if self._server is not None:
            self._server.close()
            for client in list(self.clients.values()):
                if client.transport is not None:
                    client.transport.close()
            await self._server.wait_closed()
