"""redis-py's own test files, from the source distribution of the installed redis-py, run
against a real respike node; every test that fails must be listed, with its reason, in
docs/compatibility.md.

    python -m compat.redis_py_suite              # test_scripting, test_function, test_pubsub, test_lock
    python -m compat.redis_py_suite --long       # and test_commands, test_pipeline, asyncio ones...
    python -m compat.redis_py_suite --update-docs   # rewrite the known-failures table
    python -m compat.redis_py_suite --strict     # also fail when a listed test now passes

The sdist is fetched with `pip download` once and kept under build/redis-py/. Its tests run
with `--redis-url` pointing at the node and `-m "not onlycluster and not redismod and not
ssl"` (what redis-py's CI deselects for a standalone server); their conftest asks INFO for
`redis_version` (respike answers 7.2.0), so tests of later versions skip themselves.
Exit status: 0 when every failure is a listed one, 1 otherwise, 2 when the suite could not
run at all."""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tarfile
import tempfile
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from importlib import metadata

from respike.process import NodeProcess

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CACHE = os.path.join(ROOT, "build", "redis-py")
DOC = os.path.join(ROOT, "docs", "compatibility.md")
BEGIN, END = "<!-- redis-py-suite:begin -->", "<!-- redis-py-suite:end -->"
DEFAULT_FILES = ["test_scripting.py", "test_function.py", "test_pubsub.py", "test_lock.py"]
LONG_FILES = [
    "test_commands.py", "test_pipeline.py", "test_encoding.py", "test_hash.py",
    "test_asyncio/test_scripting.py", "test_asyncio/test_function.py", "test_asyncio/test_lock.py",
]  # fmt: skip
MARKERS = "not onlycluster and not redismod and not ssl"
ROW = re.compile(r"^\| `([^`]+)` \| (.*) \|$")
COUNTS = re.compile(r"^\| (tests/\S+\.py) \| \d+ \| \d+ \| \d+ \|$")
UNKNOWN = re.compile(r"unknown command [`']([^`']+)[`']", re.IGNORECASE)


@dataclass
class Outcome:
    test: str  # tests/test_x.py::Class::name[param]
    status: str  # passed | failed | skipped
    message: str = ""


def sdist(version: str) -> str:
    """The extracted redis-py sdist of `version` (downloaded into build/redis-py once)."""
    target = os.path.join(CACHE, f"redis-{version}")
    if os.path.isdir(os.path.join(target, "tests")):
        return target
    os.makedirs(CACHE, exist_ok=True)
    archive = os.path.join(CACHE, f"redis-{version}.tar.gz")
    if not os.path.exists(archive):
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "-q", "--no-binary", ":all:",
             "--no-deps", f"redis=={version}", "-d", CACHE],
            check=True, timeout=300,
        )  # fmt: skip
    with tarfile.open(archive) as tar:
        if hasattr(tarfile, "data_filter"):  # Python >= 3.11.4: refuse odd members
            tar.extractall(CACHE, filter="data")
        else:
            tar.extractall(CACHE)
    return target


def run_files(source: str, files: list[str], url: str, protocol: str, junit: str) -> int:
    """pytest over the sdist's test files, as a child process started in the sdist (its
    pyproject is the pytest config: asyncio mode, markers, a 30 s timeout per test)."""
    argv = [
        sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "addopts=",
        f"--redis-url={url}", "-m", MARKERS, f"--junitxml={junit}",
        *(["--protocol", protocol] if protocol else []),
        *(os.path.join("tests", f) for f in files),
    ]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # its own `tests`
    done = subprocess.run(argv, cwd=source, env=env, capture_output=True, text=True, timeout=1800)
    tail = "\n".join(done.stdout.splitlines()[-3:])
    print(tail, flush=True)
    return done.returncode


def outcomes(junit: str) -> list[Outcome]:
    found: dict[str, Outcome] = {}
    for case in ET.parse(junit).getroot().iter("testcase"):
        parts = case.get("classname", "").split(".")
        path = "/".join(p for p in parts if not p[:1].isupper()) + ".py"
        classes = [p for p in parts if p[:1].isupper()]
        test = "::".join([path, *classes, case.get("name", "")])
        status, message = "passed", ""
        for tag in ("failure", "error"):
            node = case.find(tag)
            if node is not None:
                status = "failed"
                lines = (node.text or "").strip().splitlines()
                message = node.get("message") or (lines[-1] if lines else "")
        if status == "passed" and case.find("skipped") is not None:
            status = "skipped"
        earlier = found.get(test)  # a test failing in its call and its teardown: once
        if earlier is None or (status == "failed" and earlier.status != "failed"):
            found[test] = Outcome(test, status, message or "")
    return list(found.values())


def known_failures(text: str) -> dict[str, str]:
    """test -> reason, from the table between the markers in docs/compatibility.md."""
    if BEGIN not in text:
        return {}
    section = text.split(BEGIN, 1)[1].split(END, 1)[0]
    return {m.group(1): m.group(2) for m in map(ROW.match, section.splitlines()) if m}


def reason_for(outcome: Outcome, known: dict[str, str]) -> str:
    if outcome.test in known:
        return known[outcome.test]
    match = UNKNOWN.search(outcome.message)
    if match:
        return f"respike does not implement `{match.group(1).upper()}` yet"
    first = outcome.message.splitlines()[0] if outcome.message else "no message"
    return "NOT LOOKED AT: " + first.replace("|", "/")[:160]


def render(
    results: list[Outcome], files: list[str], known: dict[str, str], version: str, old: str
) -> str:
    ran = {f"tests/{f}" for f in files}
    kept = {m.group(1): m.group(0) for m in map(COUNTS.match, old.splitlines()) if m}
    lines = [
        BEGIN,
        f"redis-py {version}'s test files, run by `python -m compat.redis_py_suite` "
        f'(`-m "{MARKERS}"`, default protocol):',
        "",
        "| file | passed | failed | skipped |",
        "|---|---|---|---|",
    ]
    for f in sorted(ran | set(kept)):
        if f not in ran:  # a file not run this time keeps its line
            lines.append(kept[f])
            continue
        counts = {s: sum(1 for o in results if o.test.startswith(f + "::") and o.status == s)
                  for s in ("passed", "failed", "skipped")}  # fmt: skip
        lines.append(f"| {f} | {counts['passed']} | {counts['failed']} | {counts['skipped']} |")
    lines += ["", "Every test that fails, and why:", "", "| test | reason |", "|---|---|"]
    rows = {o.test: reason_for(o, known) for o in results if o.status == "failed"}
    # entries of files not run this time (the --long ones) stay as they were
    rows.update({t: r for t, r in known.items() if t.split("::")[0] not in ran})
    lines += [f"| `{t}` | {r} |" for t, r in sorted(rows.items())]
    return "\n".join(lines + [END])


def update_docs(results: list[Outcome], files: list[str], known: dict[str, str], version: str):
    with open(DOC) as fh:
        text = fh.read()
    old = text.split(BEGIN, 1)[1].split(END, 1)[0] if BEGIN in text else ""
    section = render(results, files, known, version, old)
    if BEGIN in text:
        head, rest = text.split(BEGIN, 1)
        text = head + section + rest.split(END, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n## redis-py's test suite\n\n" + section + "\n"
    with open(DOC, "w") as fh:
        fh.write(text)


def compare(results: list[Outcome], known: dict[str, str], strict: bool) -> int:
    failed = [o for o in results if o.status == "failed"]
    new = [o for o in failed if o.test not in known]
    fixed = [o for o in results if o.status == "passed" and o.test in known]
    counts = {s: sum(1 for o in results if o.status == s) for s in ("passed", "failed", "skipped")}
    print(f"redis-py suite: {counts['passed']} passed, {counts['failed']} failed "
          f"({len(failed) - len(new)} listed in docs/compatibility.md), "
          f"{counts['skipped']} skipped")  # fmt: skip
    for o in new:
        print(f"NOT LISTED: {o.test}: {o.message.splitlines()[0] if o.message else ''}")
    for o in fixed:
        print(f"{'NOW PASSES' if strict else 'now passes (listed)'}: {o.test}")
    return 1 if new or (strict and fixed) else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--long", action="store_true", help="also " + ", ".join(LONG_FILES))
    parser.add_argument("--files", nargs="+", help="these test files instead (test_x.py)")
    parser.add_argument("--update-docs", action="store_true", help="rewrite the table")
    parser.add_argument("--strict", action="store_true", help="a listed test passing fails")
    parser.add_argument("--protocol", default="", help="2 or 3 (redis-py's default: 3)")
    args = parser.parse_args(argv)
    files = args.files or DEFAULT_FILES + (LONG_FILES if args.long else [])
    version = metadata.version("redis")
    try:
        source = sdist(version)
    except (subprocess.SubprocessError, OSError, tarfile.TarError) as exc:
        print(f"cannot get the redis-py {version} sdist: {exc}", file=sys.stderr)
        return 2
    node = NodeProcess().start()
    try:
        with tempfile.TemporaryDirectory(prefix="redis-py-suite-") as tmp:
            junit = os.path.join(tmp, "junit.xml")
            url = f"redis://{node.host}:{node.port}/0"
            run_files(source, files, url, args.protocol, junit)
            if not os.path.exists(junit):
                print("pytest wrote no results", file=sys.stderr)
                return 2
            results = outcomes(junit)
    finally:
        node.cleanup()
    with open(DOC) as fh:
        known = known_failures(fh.read())
    if args.update_docs:
        update_docs(results, files, known, version)
        with open(DOC) as fh:
            known = known_failures(fh.read())
    return compare(results, known, args.strict)


if __name__ == "__main__":
    sys.exit(main())
