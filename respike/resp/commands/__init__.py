"""Command handlers, one module per group, each declared with `table.command`."""

from . import (
    cluster,
    connection,
    hashes,
    keys,
    lists,
    native,
    observe,
    pubsub,
    scripting,
    server,
    sets,
    streams,
    strings,
    transactions,
    udf,
    zsets,
)

MODULES = [
    connection,
    server,
    strings,
    hashes,
    keys,
    transactions,
    native,
    udf,
    scripting,
    lists,
    sets,
    zsets,
    streams,
    pubsub,
    observe,
    cluster,
]
