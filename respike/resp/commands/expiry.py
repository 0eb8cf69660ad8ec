"""Expiry arguments (EX/PX/EXAT/PXAT, EXPIRE's NX/XX/GT/LT) as Redis parses them."""

from __future__ import annotations

from ...engine.namespace import Namespace
from ...errors import RedisError, invalid_expire
from .args import to_int

LLONG_MAX = (1 << 63) - 1
UNITS = {b"EX": (1000, False), b"PX": (1, False), b"EXAT": (1000, True), b"PXAT": (1, True)}


def expire_option(cmd: str, option: bytes, value: bytes, now: int) -> int:
    """Absolute void-time (ms) for SET/GETEX's EX/PX/EXAT/PXAT `value` (getExpireMilliseconds)."""
    scale, absolute = UNITS[option]
    ms = to_int(value)
    if ms <= 0 or (scale == 1000 and ms > LLONG_MAX // 1000):
        raise RedisError(invalid_expire(cmd))
    ms *= scale
    if not absolute:
        ms += now
    if ms <= 0 or ms > LLONG_MAX:
        raise RedisError(invalid_expire(cmd))
    return ms


def expire_flags(args: list[bytes]) -> set[bytes]:
    flags = set()
    for arg in args:
        opt = arg.upper()
        if opt not in (b"NX", b"XX", b"GT", b"LT"):
            raise RedisError(f"ERR Unsupported option {arg.decode('utf-8', 'replace')}")
        flags.add(opt)
    if b"NX" in flags and len(flags) > 1:
        raise RedisError("ERR NX and XX, GT or LT options at the same time are not compatible")
    if b"GT" in flags and b"LT" in flags:
        raise RedisError("ERR GT and LT options at the same time are not compatible")
    return flags


def expire_allowed(flags: set[bytes], current: int, when: int) -> bool:
    """EXPIRE's NX/XX/GT/LT conditions; `current` 0 means no expiry (an infinite TTL)."""
    if b"NX" in flags and current:
        return False
    if b"XX" in flags and not current:
        return False
    if b"GT" in flags and (not current or when <= current):
        return False
    if b"LT" in flags and current and when >= current:
        return False
    return True


def void_for_write(ns: Namespace, void: int, now: int) -> int:
    """Check a future void-time against the namespace's TTL rules (max-ttl, nsup)."""
    if void > 0:
        ns.void_from_ttl_ms(void - now, now)
    return void
