"""The `limits` rate-limiting library with its Redis storage (`redis://`, and
`redis+cluster://` on the 3-node cluster; `async+redis://` through redis-py's asyncio
client): fixed window (INCRBY + EXPIRE), moving window (a Lua script over a list) and
sliding window counter (Lua scripts over two counters with PEXPIRE/PTTL)."""

from __future__ import annotations

import asyncio
import time

import pytest
from limits import parse
from limits.aio import strategies as aio_strategies
from limits.storage import storage_from_string
from limits.strategies import (
    FixedWindowRateLimiter,
    MovingWindowRateLimiter,
    SlidingWindowCounterRateLimiter,
)

from compat.support import tolerate_missing_commands
from respike.process import wait_until

STRATEGIES = {
    "fixed": (FixedWindowRateLimiter, aio_strategies.FixedWindowRateLimiter),
    "moving": (MovingWindowRateLimiter, aio_strategies.MovingWindowRateLimiter),
    "sliding": (SlidingWindowCounterRateLimiter, aio_strategies.SlidingWindowCounterRateLimiter),
}


@pytest.fixture(params=["node", "cluster"])
def storage_uri(request, app_node):
    if request.param == "node":
        return f"redis://{app_node.host}:{app_node.port}"
    seed = request.getfixturevalue("cluster3").nodes[0]
    return f"redis+cluster://{seed.host}:{seed.port}"


@pytest.mark.parametrize("strategy", sorted(STRATEGIES))
def test_limit_is_enforced_and_cleared(storage_uri, strategy):
    with tolerate_missing_commands():
        storage = storage_from_string(storage_uri)
        assert storage.check()
        limiter = STRATEGIES[strategy][0](storage)
        limit = parse("5/minute")
        who = ("compat", strategy, str(time.time_ns()))
        assert [limiter.hit(limit, *who) for _ in range(7)] == [True] * 5 + [False] * 2
        assert not limiter.test(limit, *who)
        stats = limiter.get_window_stats(limit, *who)
        assert stats.remaining == 0
        assert time.time() < stats.reset_time <= time.time() + 61
        # another identity has its own budget
        assert limiter.hit(limit, *who, "other")
        limiter.clear(limit, *who)
        assert limiter.test(limit, *who)
        assert limiter.get_window_stats(limit, *who).remaining == 5
        assert limiter.hit(limit, *who, cost=5) and not limiter.hit(limit, *who)


@pytest.mark.parametrize("strategy", sorted(STRATEGIES))
def test_window_expires(storage_uri, strategy):
    """A 1-second window lets hits through again once it has passed (server-side TTLs)."""
    with tolerate_missing_commands():
        limiter = STRATEGIES[strategy][0](storage_from_string(storage_uri))
        limit = parse("2/second")
        who = ("compat-expiry", strategy, str(time.time_ns()))
        assert limiter.hit(limit, *who) and limiter.hit(limit, *who)
        assert not limiter.hit(limit, *who)
        wait_until(lambda: limiter.test(limit, *who), 5, f"the {strategy} window to pass", 0.05)
        assert limiter.hit(limit, *who)


@pytest.mark.parametrize("strategy", sorted(STRATEGIES))
def test_async_storage(app_node, strategy):
    async def run() -> None:
        storage = storage_from_string(
            f"async+redis://{app_node.host}:{app_node.port}", implementation="redispy"
        )
        assert await storage.check()
        limiter = STRATEGIES[strategy][1](storage)
        limit = parse("3/minute")
        who = ("compat-async", strategy, str(time.time_ns()))
        hits = await asyncio.gather(*(limiter.hit(limit, *who) for _ in range(5)))
        assert sorted(hits) == [False, False, True, True, True]
        stats = await limiter.get_window_stats(limit, *who)
        assert stats.remaining == 0
        await limiter.clear(limit, *who)
        assert await limiter.hit(limit, *who)

    with tolerate_missing_commands():
        asyncio.run(asyncio.wait_for(run(), 30))
