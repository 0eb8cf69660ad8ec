"""redis-py's own test_scripting.py, test_function.py, test_pubsub.py and test_lock.py
(from the sdist of the installed redis-py) against a real respike node, through
`python -m compat.redis_py_suite`: every failing test must be listed, with its reason, in
docs/compatibility.md. With RESPIKE_COMPAT_STRICT=1 a listed test that passes fails too
(the table is then out of date: `python -m compat.redis_py_suite --update-docs`)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from compat.support import ROOT, STRICT


@pytest.mark.timeout(330)
def test_redis_py_suite_failures_are_the_listed_ones():
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([ROOT, os.environ.get("PYTHONPATH", "")]))
    done = subprocess.run(
        [sys.executable, "-m", "compat.redis_py_suite", *(["--strict"] if STRICT else [])],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    output = done.stdout + done.stderr
    if done.returncode == 2 and "cannot get the redis-py" in output:
        pytest.skip(output.strip().splitlines()[-1])
    assert done.returncode == 0, output
    assert "redis-py suite:" in output and " passed" in output, output
