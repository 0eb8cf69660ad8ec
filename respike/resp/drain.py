"""The connection's hot loop, as a function of its own so that it can run compiled.

`Client._drain_fast` calls `drain_fast(self)`: hiredis parses, the command runs, replies
collect for one write. The common case (known command, right arity, nothing special
about the connection) is dispatched inline; everything else goes through `execute`.
The client is typed Any on purpose: it is an interpreted class, and what this saves is
the interpreter's per-command bytecode, not attribute lookups.
"""

from __future__ import annotations

from typing import Any

import hiredis

from ..engine.engine import Ack
from .stats import SAMPLE_EVERY


def join_gate(client: Any, ack: Any) -> bool:
    """Whether the connection's replies can wait behind `ack` (a device's group commit)
    in its output list: it already does, or nothing else is held and it starts now."""
    gate = client.gate
    if gate is ack:
        return not client.in_exec
    if gate is not None or type(ack) is not Ack or client.queue is not None or client.in_exec:
        return False
    client.gate = ack
    ack.listeners.append(client)
    out = client._out
    if out:
        client._pre.extend(out)
        out.clear()
    return True


def drain_fast(client: Any) -> None:
    reader = client.reader
    gets = reader.hiredis.gets
    hot, execute, append, waits = client._loop_ctx
    done: int = client._done
    last = client._last
    start = done
    countdown: int = client._countdown  # time one command in SAMPLE_EVERY (see resp/stats.py)
    # Only commands that go through `execute` can change these two.
    special: bool = client.special
    queued: bool = client.queue is not None
    while not client.closing:
        try:
            cmd = gets()
        except hiredis.ProtocolError:
            cmd = None
        if cmd is False:
            reader.end_fast(client._chunk, done, last)
            client._chunk = b""
            break
        if type(cmd) is not list or not cmd:
            if cmd == []:  # *0: ignored, as Redis does
                done += 1
                continue
            reader.fast_failed(client._chunk, done)  # not an array: re-parse exactly
            client._chunk = b""
            break
        done += 1
        last = cmd
        entry = hot(cmd[0])
        countdown -= 1
        if entry is not None and not special and countdown > 0:
            spec, handler, arity = entry
            n = len(cmd)
            if n == arity or (arity < 0 and n >= -arity):
                spec.calls += 1
                try:
                    reply = handler(client, cmd)
                except Exception as exc:
                    reply = client._failed(spec, exc, cmd)
                if waits:
                    if (type(reply) is bytes and len(waits) == 1 and not waits.throttle
                            and join_gate(client, waits[0])):
                        # The commonest durable write: its reply waits behind the group
                        # commit, in the output list (see join_gate).
                        client._gate_writes.append(len(client._out))
                        append(reply)
                        waits.clear()
                        continue
                    reply = client._after_waits(reply)
                    if reply is None:  # joined the held reply before it
                        continue
                if type(reply) is bytes and not queued:
                    append(reply)
                    continue
                client._reply(reply)
                queued = client.queue is not None
                if client.blocked:
                    break
                continue
        reply = execute(cmd)
        if countdown <= 0:
            countdown = SAMPLE_EVERY
        special = client.special
        if type(reply) is bytes and client.queue is None:
            append(reply)
        else:
            client._reply(reply)
            if client.blocked:
                break
        queued = client.queue is not None
    client._done, client._last = done, last
    client._countdown = countdown
    client.commands_done += done - start
