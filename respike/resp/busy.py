"""Other connections while a script runs past busy-reply-threshold.

A script holds the event loop (that is its atomicity), so nothing else is served while it
runs. Past the threshold Redis answers the other clients between slices of the script:
`-BUSY` to everything except what can end it (SCRIPT KILL, FUNCTION KILL, SHUTDOWN
NOSAVE). This does the same from the script's count hook: it reads what the other
connections sent, without the loop, and answers each complete command at once.
"""

from __future__ import annotations

import logging
import os
import select
import socket
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..errors import busy_error
from .encode import error
from .reader import ProtocolError, RequestReader

if TYPE_CHECKING:
    from .client import Client
    from .server import RespServer

log = logging.getLogger("respike.resp")

READ_SIZE = 1 << 16
# What a busy node still runs (all else gets BUSY): name -> handler(client, args) -> reply.
Allowed = dict[tuple[str, str], Callable[["Client", list[bytes]], bytes]]


class Newcomer:
    """A connection accepted while the loop was held: answered here (BUSY) until the
    script ends, then handed to the loop as an ordinary client (see `adopt`)."""

    def __init__(self, sock: socket.socket, reader: RequestReader):
        self.sock = sock
        self.reader = reader
        self.closing = False
        self.transport = self

    def write(self, data: bytes) -> None:
        try:
            self.sock.send(data)
        except OSError:
            self.closing = True


def serve_others(server: RespServer, running: Client, is_function: bool, allowed: Allowed) -> None:
    """Answer what other connections have sent, once, without blocking."""
    # Replies made in the loop step the script started in wait for the step's end to be
    # written (RespServer.flush_later): their clients would wait for them until the script
    # ends, never sending what could be answered BUSY. Redis writes pending replies while
    # busy too (beforeSleep in processEventsWhileBlocked).
    server.flush_all()
    _accept(server)
    by_fd: dict[int, Any] = {n.sock.fileno(): n for n in server.newcomers if not n.closing}
    for client in list(server.clients.values()):
        if client is running or client.closing or client.transport is None:
            continue
        sock = client.transport.get_extra_info("socket")
        if sock is not None:
            by_fd[sock.fileno()] = client
    if not by_fd:
        return
    try:
        ready, _, _ = select.select(list(by_fd), [], [], 0)
    except (OSError, ValueError):
        return
    for fd in ready:
        _serve(by_fd[fd], fd, is_function, allowed)


def _accept(server: RespServer) -> None:
    """Take the connections waiting in the listening sockets' backlogs."""
    for listener in server.listeners():
        while len(server.clients) + len(server.newcomers) < server.node_config["maxclients"]:
            try:
                sock, _ = listener.accept()
            except (BlockingIOError, InterruptedError, OSError):
                break
            sock.setblocking(False)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            server.newcomers.append(
                Newcomer(sock, RequestReader(server.node_config["proto-max-bulk-len"]))
            )


def adopt(server: RespServer) -> None:
    """The script ended: connections accepted meanwhile become ordinary clients."""
    newcomers, server.newcomers = server.newcomers, []
    loop = server.loop
    for n in newcomers:
        if n.closing or loop is None:
            n.sock.close()
            continue
        reader = n.reader
        loop.create_task(
            loop.connect_accepted_socket(lambda r=reader: server.client_for(r), n.sock)
        )


def _serve(client: Any, fd: int, is_function: bool, allowed: Allowed) -> None:
    try:
        data = os.read(fd, READ_SIZE)
    except (BlockingIOError, InterruptedError):
        return
    except OSError:
        data = b""
    if not data:
        client.closing = True
        return  # the loop sees the closed socket once the script ends
    reader = client.reader
    replies: list[bytes] = []
    try:
        reader.feed(data)
        while (cmd := reader.get()) is not None:
            replies.append(_answer(client, cmd, is_function, allowed))
    except ProtocolError as exc:
        replies.append(error(str(exc)))
        client.closing = True
    if replies and client.transport is not None:
        client.transport.write(b"".join(replies))  # written now (the loop is not running)


def _answer(client: Any, cmd: list[bytes], is_function: bool, allowed: Allowed) -> bytes:
    name = cmd[0].decode("utf-8", "replace").lower()
    sub = cmd[1].decode("utf-8", "replace").lower() if len(cmd) > 1 else ""
    handler = allowed.get((name, sub)) or allowed.get((name, ""))
    if handler is None:
        return error(busy_error(is_function))
    return handler(client, cmd)
