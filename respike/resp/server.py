"""The RESP service: listening socket, connected clients, and what commands share."""

from __future__ import annotations

import asyncio
import itertools
import os
import socket
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .client import TURN_BYTES, Client
from .stats import SlowLog
from .table import CommandTable

if TYPE_CHECKING:
    from ..engine.engine import Engine
    from .table import Command

# route(client, command, args) -> None to run locally, else the reply (bytes or awaitable).
Router = Callable[[Client, "Command", list[bytes]], Any]
InfoSection = Callable[[], dict[str, Any]]

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
