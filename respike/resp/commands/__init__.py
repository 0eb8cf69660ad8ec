"""Command handlers, one module per group, each declared with `table.command`."""

from . import (
    cluster,
    connection,
    hashes,
    keys,
    lists,
    native,
    observe,
    server,
    sets,
    strings,
    transactions,
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
    lists,
    sets,
    zsets,
    observe,
    cluster,
]
