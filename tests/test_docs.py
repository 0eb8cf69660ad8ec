"""The command and configuration docs come from the declarations, and every documented
example is a command the server accepts."""

import re
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


def _group_rows() -> dict[str, list[str]]:
    """docs/compatibility.md's command-group table: {group title: [status, answered, gap]}."""
    from respike.docs import GROUPS_BEGIN, GROUPS_END, ROOT

    with open(f"{ROOT}/docs/compatibility.md") as fh:
        text = fh.read()
    section = text.split(GROUPS_BEGIN, 1)[1].split(GROUPS_END, 1)[0]
    rows = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if line.startswith("| ") and len(cells) == 4 and cells[0] != "group":
            rows[cells[0]] = cells[1:]
    return rows


def test_compatibility_table_matches_the_declarations():
    """Each row's status, count and missing commands, recomputed from what respike declares
    (no generator code involved): a command that lands, or goes, changes its row."""
    from respike.docs import REDIS_GROUPS
    from respike.redis_commands import REDIS_72_COMMANDS

    declared = {c.name for c in TABLE.every()}
    rows = _group_rows()
    assert set(rows) == {title for _, title in REDIS_GROUPS}
    assert set(REDIS_72_COMMANDS) == {group for group, _ in REDIS_GROUPS}
    for group, title in REDIS_GROUPS:
        status, answered, gap = rows[title]
        names = REDIS_72_COMMANDS[group]
        have = [n for n in names if n in declared]
        assert answered == f"{len(have)} of {len(names)}", title
        if group == "sentinel":
            assert status.startswith("not applicable") and not have
            continue
        expected = "supported" if len(have) == len(names) else "partly" if have else "not yet"
        assert status == expected, title
        named = set(re.findall(r"`([A-Z_|-]+(?: [A-Z_-]+| \*)?)`", gap))
        for name in names:
            parent = name.split("|")[0].upper()
            shown = name.replace("|", " ").upper() in named or f"{parent} *" in named
            assert shown == (name not in declared), (title, name)


def test_compatibility_table_names_what_the_issue_lists():
    """Features users asked about are in the table or in the list under it."""
    from respike.docs import FEATURES_NOT_YET

    rows = _group_rows()
    for title in ("Bitmaps", "HyperLogLog", "Geospatial"):
        assert rows[title][0] == "not yet"
    gaps = " ".join(r[2] for r in rows.values())
    for word in ("`OBJECT *`", "`COPY`", "`DUMP`", "`RESTORE`", "`MEMORY *`", "`ACL *`"):
        assert word in gaps
    for word in ("ACL", "TLS", "numbered", "max-record-size", "consumer groups"):
        assert word in FEATURES_NOT_YET


def test_redis_command_list_is_redis_72():
    """Spot checks of the stored list: commands of 7.2, none of later versions."""
    from respike.redis_commands import REDIS_72_COMMANDS

    every = {n for names in REDIS_72_COMMANDS.values() for n in names}
    assert len(every) == 392
    assert {"get", "client|no-touch", "waitaof", "function|load", "xinfo|stream"} <= every
    assert not {"hgetex", "hexpire", "vadd"} & every  # Redis 7.4 and 8
