"""Find a real Python interpreter whose version is within a range.

Prints the absolute path of the interpreter (its own ``sys.executable``, so
pyenv shims are resolved to the real binary under ``$PYENV_ROOT/versions``)
and exits 0, or prints what it needs to stderr and exits 1.

Candidates, for every version from the newest allowed down to the oldest
(``--prefer`` versions first):

* ``pythonX.Y`` in every directory of ``PATH`` (shims that fail are skipped);
* ``$PYENV_ROOT/versions/X.Y.*/bin/pythonX.Y`` (``~/.pyenv`` when
  ``PYENV_ROOT`` is unset), newest patch release first.

A candidate is accepted only if it runs, reports the expected version and can
create virtual environments (``venv`` and ``ensurepip`` importable).

Usage::

    find_python.py --min 3.12 --max 3.14 [--prefer 3.13] [--use /path/to/python]

This script runs on any Python 3.6+ (it is started with whatever ``python3`` is
on ``PATH``).
"""

import argparse
import glob
import os
import re
import subprocess
import sys

PROBE = (
    "import sys, venv, ensurepip; "
    "print('%d.%d' % sys.version_info[:2]); "
    "print(sys.executable)"
)


def parse_version(text):
    match = re.match(r"^(\d+)\.(\d+)$", text.strip())
    if not match:
        raise argparse.ArgumentTypeError("expected X.Y, got %r" % text)
    return int(match.group(1)), int(match.group(2))


def version_range(low, high):
    """All X.Y versions from high down to low (same major only, Python 3)."""
    if low[0] != high[0]:
        raise SystemExit("find_python: --min and --max must have the same major version")
    return [(low[0], minor) for minor in range(high[1], low[1] - 1, -1)]


def probe(path, want=None):
    """Run the candidate; return (version, real executable) or None."""
    try:
        out = subprocess.run(
            [path, "-c", PROBE],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            stdin=subprocess.DEVNULL,
            timeout=30,
            check=False,
            universal_newlines=True,
            env=dict(os.environ, PYTHONNOUSERSITE="1"),
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0:
        return None
    lines = out.stdout.strip().splitlines()
    if len(lines) != 2:
        return None
    try:
        version = parse_version(lines[0])
    except argparse.ArgumentTypeError:
        return None
    if want is not None and version != want:
        return None
    executable = lines[1].strip()
    if not executable or not os.path.isabs(executable):
        return None
    return version, executable


def patch_key(path):
    """Sort key for .../versions/3.12.10/bin/python3.12: newest patch first."""
    name = os.path.basename(os.path.dirname(os.path.dirname(path)))
    nums = [int(n) for n in re.findall(r"\d+", name)]
    plain = bool(re.match(r"^\d+\.\d+\.\d+$", name))  # 3.12.1 before 3.12.1t, 3.13-dev...
    return (plain, nums)


def candidates(version):
    name = "python%d.%d" % version
    seen = set()
    for directory in os.environ.get("PATH", "").split(os.pathsep):
        if not directory:
            continue
        path = os.path.join(directory, name)
        if os.path.isfile(path) and os.access(path, os.X_OK) and path not in seen:
            seen.add(path)
            yield path
    pyenv_root = os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv")
    pattern = os.path.join(pyenv_root, "versions", "%d.%d.*" % version, "bin", name)
    for path in sorted(glob.glob(pattern), key=patch_key, reverse=True):
        if os.access(path, os.X_OK) and path not in seen:
            seen.add(path)
            yield path


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--min", type=parse_version, required=True, help="oldest version accepted (X.Y)")
    parser.add_argument("--max", type=parse_version, required=True, help="newest version accepted (X.Y)")
    parser.add_argument("--prefer", type=parse_version, action="append", default=[],
                        help="version to try first (repeatable)")
    parser.add_argument("--use", metavar="PYTHON",
                        help="check this interpreter only (it must be within the range)")
    parser.add_argument("--purpose", default="", help="what the interpreter is for (for messages)")
    args = parser.parse_args()

    wanted = version_range(args.min, args.max)
    purpose = " for %s" % args.purpose if args.purpose else ""
    span = "%d.%d-%d.%d" % (args.min + args.max)

    if args.use:
        found = probe(args.use)
        if found is None:
            sys.stderr.write("find_python: %s does not run, or lacks venv/ensurepip\n" % args.use)
            return 1
        if found[0] not in wanted:
            sys.stderr.write("find_python: %s is Python %d.%d; Python %s is needed%s\n"
                             % ((args.use,) + found[0] + (span, purpose)))
            return 1
        print(found[1])
        return 0

    order = [v for v in args.prefer if v in wanted]
    order += [v for v in wanted if v not in order]
    for version in order:
        for path in candidates(version):
            found = probe(path, want=version)
            if found is not None:
                print(found[1])
                return 0

    names = ", ".join("python%d.%d" % v for v in order)
    sys.stderr.write(
        "find_python: no usable Python %s found%s.\n"
        "  Looked for %s on PATH and under $PYENV_ROOT/versions (%s).\n"
        "  Install one (with its venv and ensurepip modules), e.g. `pyenv install %s`\n"
        "  or your distribution's python%s and python%s-venv packages,\n"
        "  or name one explicitly (the Makefile's PYTHON / PYTHON216, i.e. --use).\n"
        % (span, purpose, names, os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv"),
           "%d.%d" % order[0], "%d.%d" % order[0], "%d.%d" % order[0])
    )
    return 1


if __name__ == "__main__":
    sys.exit(main())
