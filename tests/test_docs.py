"""The command and configuration docs come from the declarations, and every documented
example is a command the server accepts."""

import shlex
import subprocess
import sys

import pytest
import redis

from respike.docs import main as docs_main
from respike.resp import commands
from respike.resp.table import CommandTable

TABLE = CommandTable(commands.MODULES)


def _all_commands():
    for cmd in TABLE.all():
        if cmd.subcommands:
            yield from cmd.subcommands.values()
        else:
            yield cmd


def test_generated_docs_are_current():
    assert docs_main(["--check"]) == 0, "run `make docs`"


def test_docs_module_runs_as_a_script():
    out = subprocess.run(
        [sys.executable, "-m", "respike.docs", "--check"], capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr


@pytest.mark.parametrize("cmd", list(_all_commands()), ids=lambda c: c.name)
def test_every_command_is_documented(cmd):
    assert cmd.summary, f"{cmd.name} has no summary"
    assert cmd.example, f"{cmd.name} has no example"
    words = cmd.example.split()
    assert " ".join(words[: len(cmd.display.split())]).upper() == cmd.display


# Examples whose first run may legitimately fail for data reasons (the key is absent or of
# another type); what must never happen is a syntax, arity or unknown-command error.
_BAD = (
    "ERR syntax error",
    "ERR wrong number of arguments",
    "ERR unknown command",
    "ERR unknown subcommand",
)


def test_every_example_is_accepted(node):
    conn = redis.Connection(host=node.host, port=node.port, protocol=3, socket_timeout=10)
    try:
        for cmd in _all_commands():
            if cmd.name in ("quit", "reset", "client|kill", "flushall", "flushdb", "debug|sleep"):
                continue
            conn.send_command(*shlex.split(cmd.example))
            try:
                conn.read_response()  # raw: no client-side reply parsing
            except redis.ResponseError as exc:
                assert not str(exc).startswith(_BAD), f"{cmd.example!r}: {exc}"
        conn.send_command("FLUSHALL")
        conn.read_response()
    finally:
        conn.disconnect()
