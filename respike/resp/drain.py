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

from .stats import SAMPLE_EVERY


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
                    if (type(reply) is bytes and len(waits) == 1 and waits[0] is client.gate
                            and not waits.throttle and not client.in_exec):
                        # The commonest durable write: behind the group commit that
                        # already gates this connection (Client._gated, inline).
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
