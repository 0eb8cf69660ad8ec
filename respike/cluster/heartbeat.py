"""Mesh heartbeat bookkeeping: who is alive, what each peer last said, whom to pulse.

Pure state: the node feeds it received pulses and the clock, and asks it which addresses to
pulse. A peer is alive while its last pulse is younger than `interval * timeout` (Aerospike:
150 ms and 10 intervals, so 1.5 s). Every pulse carries the sender's adjacency list with
addresses, so a node that only knows one seed learns every other node in one or two
intervals (mesh gossip). Dead peers are still pulsed for `forget_after_ms`, and seeds
forever, so a node that comes back (or a healed link) is found again.

A node that was itself paused (SIGSTOP, VM freeze, a stalled loop) must not conclude that
everybody else died: `reset_after_pause` restarts every peer's timeout window.
"""

from __future__ import annotations

from dataclasses import dataclass

from .messages import Pulse


@dataclass(slots=True)
class Peer:
    """What this node knows about another node."""

    node_id: int
    address: str
    last_heard: int
    pulse: Pulse | None = None
    alive: bool = True
    boot_id: int = 0


class Heartbeat:
    def __init__(
        self,
        node_id: int,
        address: str,
        seeds: list[str],
        interval_ms: int = 150,
        timeout_intervals: int = 10,
        forget_after_ms: int = 600_000,
    ):
        self.node_id = node_id
        self.address = address
        self.seeds = [s for s in seeds if s != address]
        self.interval_ms = interval_ms
        self.timeout_ms = interval_ms * timeout_intervals
        self.forget_after_ms = forget_after_ms
        self.peers: dict[int, Peer] = {}
        self.next_pulse = 0
        # Bumped whenever the alive set or any alive peer's pulse content changes in a way
        # that matters for clustering; the clustering layer debounces on it.
        self.changes = 0
        self.events: list[tuple[str, int]] = []  # ("up" | "down" | "restarted", node)

    # --- inputs ------------------------------------------------------------------------

    def on_pulse(self, src: int, pulse: Pulse, now: int) -> None:
        if src == self.node_id:
            return
        peer = self.peers.get(src)
        if peer is None:
            peer = self.peers[src] = Peer(src, pulse.address, now, pulse, True, pulse.boot_id)
            self.changes += 1
            self.events.append(("up", src))
        else:
            if not peer.alive:
                peer.alive = True
                self.changes += 1
                self.events.append(("up", src))
            elif peer.boot_id != pulse.boot_id:
                self.changes += 1
                self.events.append(("restarted", src))
            elif _differs(peer.pulse, pulse):
                self.changes += 1
            peer.address = pulse.address
            peer.last_heard = now
            peer.pulse = pulse
            peer.boot_id = pulse.boot_id
        # Learn nodes from the sender's adjacency list (mesh gossip): pulse them too.
        for node, addr in pulse.adjacency:
            if node != self.node_id and node not in self.peers and addr:
                # Not alive until it pulses us itself; we only learned where it is.
                self.peers[node] = Peer(node, addr, now - self.timeout_ms - 1, None, False)

    def tick(self, now: int) -> bool:
        """Expire peers; True if a pulse is due now (the caller builds and sends it)."""
        for peer in list(self.peers.values()):
            if peer.alive and now - peer.last_heard > self.timeout_ms:
                peer.alive = False
                self.changes += 1
                self.events.append(("down", peer.node_id))
            elif not peer.alive and now - peer.last_heard > self.forget_after_ms:
                del self.peers[peer.node_id]
        if now >= self.next_pulse:
            self.next_pulse = now + self.interval_ms
            return True
        return False

    def reset_after_pause(self, now: int) -> None:
        """This node was not running for a while: give every alive peer a fresh window."""
        for peer in self.peers.values():
            if peer.alive:
                peer.last_heard = now
        self.next_pulse = now

    # --- outputs -----------------------------------------------------------------------

    def alive(self) -> list[int]:
        return [p.node_id for p in self.peers.values() if p.alive]

    def is_alive(self, node: int) -> bool:
        peer = self.peers.get(node)
        return peer is not None and peer.alive

    def pulse_of(self, node: int) -> Pulse | None:
        peer = self.peers.get(node)
        return peer.pulse if peer is not None and peer.alive else None

    def heard_at(self, node: int) -> int:
        peer = self.peers.get(node)
        return peer.last_heard if peer is not None else -1

    def adjacency(self) -> tuple[tuple[int, str], ...]:
        """Alive peers with their addresses, sorted: the list this node gossips."""
        return tuple(sorted((p.node_id, p.address) for p in self.peers.values() if p.alive))

    def targets(self) -> list[tuple[int, str]]:
        """(node id, address) to pulse: every known peer, plus seeds not yet identified."""
        out = [(p.node_id, p.address) for p in self.peers.values()]
        known = {p.address for p in self.peers.values()}
        out.extend((0, s) for s in self.seeds if s not in known)
        return out

    def take_events(self) -> list[tuple[str, int]]:
        events, self.events = self.events, []
        return events


def _differs(old: Pulse | None, new: Pulse) -> bool:
    """Did anything clustering decides on change between two pulses of one peer?"""
    if old is None:
        return True
    return (
        old.cluster_key != new.cluster_key
        or old.succession != new.succession
        or old.adjacency != new.adjacency
        or old.rebalanced != new.rebalanced
        or (old.migrations_pending == 0) != (new.migrations_pending == 0)
        or old.quiesced != new.quiesced
    )
