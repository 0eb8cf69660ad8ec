"""Compile the record path with mypyc, in place: the same Python source, run as C.

    python -m respike.build_native          # build (make run / make test do this); 1 = not built
    python -m respike.build_native --clean  # back to pure Python
    python respike/build_native.py --list   # the compiled modules' sources (the Makefile's)

Every command goes through these modules (the connection's hot loop, the record lookup
and write); compiled, they cost about a third less CPU per SET (see docs/benchmarks.md). Python imports an extension
module before the source beside it, so nothing else changes; without a C compiler or
mypy the node runs the same code interpreted. `stale()` names compiled modules whose
source changed since: they would run old code, so the tests refuse to start on them.
"""

from __future__ import annotations

import glob
import importlib.machinery
import os
import shutil
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODULES = (
    "respike/engine/record.py",
    "respike/engine/namespace.py",
    "respike/engine/storage.py",
    "respike/engine/device/storage.py",
    "respike/engine/device/index.py",
    "respike/engine/device/format.py",
    "respike/engine/device/scan.py",
    "respike/resp/reader.py",
    "respike/resp/client.py",
    "respike/resp/commands/strings.py",
    "respike/resp/commands/hashes.py",
    "respike/resp/commands/scripting.py",
    "respike/scripting/scripts.py",
)
GROUP = "respike.engine.native"  # mypyc's shared runtime: respike/engine/native__mypyc*.so
BUILD_DIR = os.path.join("build", "native")


def _extensions(source: str) -> list[str]:
    """The built extension files of `source` (a .py path relative to ROOT)."""
    stem = os.path.join(ROOT, source[:-3])
    return [
        p for suffix in importlib.machinery.EXTENSION_SUFFIXES for p in glob.glob(stem + suffix)
    ]


def compiled() -> list[str]:
    """The modules of MODULES that import from a compiled extension."""
    return [m for m in MODULES if _extensions(m)]


def running() -> list[str]:
    """The modules of MODULES this process imported compiled (their names below
    `respike.engine` / `respike.resp`: `storage`, `device.storage`, `client`, ...)."""
    names = [m[:-3].replace("/", ".") for m in MODULES]
    return [
        n.split(".", 2)[2]
        for n in names
        if n in sys.modules
        and sys.modules[n].__file__.endswith(tuple(importlib.machinery.EXTENSION_SUFFIXES))
    ]


def stale() -> list[str]:
    """Compiled modules whose source is newer than their extension."""
    return [
        m
        for m in MODULES
        for ext in _extensions(m)
        if os.path.getmtime(os.path.join(ROOT, m)) > os.path.getmtime(ext)
    ]


def clean() -> None:
    runtime = GROUP.replace(".", "/") + "__mypyc.py"  # as if it had a source
    for source in (*MODULES, runtime):
        for ext in _extensions(source):
            os.remove(ext)
    shutil.rmtree(os.path.join(ROOT, BUILD_DIR), ignore_errors=True)


def build() -> None:
    from mypyc.build import mypycify
    from setuptools import setup

    os.chdir(ROOT)
    clean()
    setup(
        name="respike-native",
        ext_modules=mypycify(
            ["--ignore-missing-imports", "--follow-imports=silent", *MODULES],
            opt_level="3",
            group_name=GROUP,
            target_dir=BUILD_DIR,
        ),
        script_args=["-q", "build_ext", "--inplace", "--build-temp", BUILD_DIR],
    )


def main() -> int:
    if "--list" in sys.argv[1:]:  # for the Makefile: what to rebuild on and type-check
        print(" ".join(MODULES))
        return 0
    if "--clean" in sys.argv[1:]:
        clean()
        return 0
    try:
        build()
    except (SystemExit, Exception) as exc:  # no mypy, no compiler: stay pure Python
        clean()
        print(f"respike: engine not compiled, running pure Python ({exc})", file=sys.stderr)
        return 1
    print(f"respike: compiled {', '.join(compiled())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
