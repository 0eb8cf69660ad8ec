"""Command handlers, one module per group; each handler carries its declaration."""

from . import connection, hashes, keys, native, server, strings, transactions

MODULES = [connection, server, strings, hashes, keys, transactions, native]
