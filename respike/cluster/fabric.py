"""The fabric: node-to-node messages over ZeroMQ, driven by the asyncio loop.

One ROUTER socket bound on this node's address receives from every peer; one DEALER per
peer address sends. Each DEALER connects *from* this node's own address
(`tcp://SRC_IP:0;PEER_IP:PORT`): an unbound socket would leave from 127.0.0.1, and
per-address fault rules (iptables on loopback) would not apply to it.

The fabric only moves bytes: it never interprets a message, and it drops what it cannot
deliver now (the cluster core retransmits what matters). ZeroMQ heartbeats close a
connection that stopped moving, so a link cut by a firewall is re-established once healed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import zmq

log = logging.getLogger("respike.cluster")

SEND_HWM = 20_000  # messages queued per peer before the fabric drops (the core resends)


def split_address(address: str) -> tuple[str, int, int]:
    """`IP:SERVICE_PORT[:FABRIC_PORT]` -> (ip, service port, fabric port)."""
    parts = address.rsplit(":", 2)
    if len(parts) == 3 and parts[1].isdigit() and parts[2].isdigit():
        return parts[0], int(parts[1]), int(parts[2])
    ip, port = address.rsplit(":", 1)
    return ip, int(port), int(port) + 10000


def node_address(ip: str, service_port: int, fabric_port: int) -> str:
    """How a node names itself in pulses: both ports, so peers learn where clients go."""
    return f"{ip}:{service_port}:{fabric_port}"


class Fabric:
    def __init__(
        self,
        bind_ip: str,
        fabric_port: int,
        on_message: Callable[[bytes], None],
        on_drained: Callable[[], None] | None = None,
    ):
        self.bind_ip = bind_ip
        self.fabric_port = fabric_port
        self.on_message = on_message
        self.on_drained = on_drained  # after every burst of messages (send replies in one go)
        self.ctx = zmq.Context.instance()
        self.router = self.ctx.socket(zmq.ROUTER)
        self.router.setsockopt(zmq.LINGER, 0)
        self.router.setsockopt(zmq.RCVHWM, 0)
        self.peers: dict[str, zmq.Socket] = {}
        self.sent = self.received = self.dropped = 0
        self._loop: asyncio.AbstractEventLoop | None = None

    def start(self) -> None:
        """Bind and start reading (raises zmq.ZMQError if the port is taken)."""
        self.router.bind(f"tcp://{self.bind_ip}:{self.fabric_port}")
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(self.router.getsockopt(zmq.FD), self._readable)
        self._loop.call_soon(self._readable)  # ZeroMQ's FD is edge-triggered: drain once now

    def _readable(self) -> None:
        router = self.router
        got = False
        while router.getsockopt(zmq.EVENTS) & zmq.POLLIN:
            try:
                frames = router.recv_multipart(zmq.NOBLOCK, copy=True)
            except zmq.Again:
                break
            got = True
            for data in frames[1:]:  # frame 0 is the sender's ZeroMQ identity
                self.received += 1
                try:
                    self.on_message(data)
                except Exception:
                    log.exception("fabric message handling failed")
        if got and self.on_drained is not None:
            self.on_drained()

    def _socket(self, address: str) -> zmq.Socket:
        sock = self.peers.get(address)
        if sock is None:
            ip, _, port = split_address(address)
            sock = self.ctx.socket(zmq.DEALER)
            for opt, value in (
                (zmq.LINGER, 0),
                (zmq.SNDHWM, SEND_HWM),
                (zmq.IMMEDIATE, 1),  # queue only on live connections: no stale bursts
                (zmq.RECONNECT_IVL, 100),
                (zmq.RECONNECT_IVL_MAX, 1000),
                (zmq.HEARTBEAT_IVL, 500),
                (zmq.HEARTBEAT_TIMEOUT, 2000),
                (zmq.CONNECT_TIMEOUT, 500),
            ):
                sock.setsockopt(opt, value)
            sock.connect(f"tcp://{self.bind_ip}:0;{ip}:{port}")
            self.peers[address] = sock
        return sock

    def send(self, address: str, messages: list[bytes]) -> None:
        """Send messages to one peer as the frames of one ZeroMQ message (one syscall's
        worth of work however many replicated writes a loop step produced)."""
        try:
            self._socket(address).send_multipart(messages, zmq.NOBLOCK, copy=True)
            self.sent += len(messages)
        except zmq.Again:
            self.dropped += len(messages)

    def close(self) -> None:
        if self._loop is not None:
            self._loop.remove_reader(self.router.getsockopt(zmq.FD))
        for sock in self.peers.values():
            sock.close(0)
        self.router.close(0)
        self.peers.clear()
