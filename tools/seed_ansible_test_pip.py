"""Seed ansible-test's pip bootstrap cache so ``--venv`` works offline.

``ansible-test sanity|units --venv`` creates its virtual environments with
``python -m venv --without-pip`` and then runs a ``get-pip`` script that it
downloads from ci-files.testing.ansible.com into
``~/.ansible/test/cache/get_pip_<version>.py``.  Where that host cannot be
reached, ansible-test stops with "does not have pip available".

This script reads, from the ansible-test installed for the given Python, which
pip version(s) it bootstraps and where it caches the script, and writes a small
stand-in there.  The stand-in runs, as subprocesses of the venv's Python:

1. ``python -m ensurepip --upgrade`` (pip from the interpreter's own wheel);
2. ``python -m pip install <the arguments ansible-test passed>``
   (without ``--no-setuptools`` / ``--no-wheel``, which only get-pip knows).

Subprocesses matter: ``ensurepip`` run in-process sets ``PIP_CONFIG_FILE`` to
``/dev/null``, which would hide ``/etc/pip.conf`` (and its CA bundle) from the
second step.

Usage::

    seed_ansible_test_pip.py PYTHON [--cache-dir DIR]

PYTHON is the interpreter whose environment has ansible-core (ansible-test)
installed.  The cache directory defaults to ``~/.ansible/test/cache`` under the
current ``HOME``, the one ansible-test will use when run with the same HOME.
"""

import argparse
import ast
import os
import re
import subprocess
import sys

MARKER = "# atlasops.backup: stand-in for get-pip (tools/seed_ansible_test_pip.py)"

STAND_IN = '''\
{marker}
# ansible-test runs this file (through its quiet_pip.py) with the arguments it
# would pass to get-pip.py: pip and its companions pinned, plus get-pip options.
import subprocess
import sys

GET_PIP_ONLY = {{"--no-setuptools", "--no-wheel"}}


def main():
    args = [arg for arg in sys.argv[1:] if arg not in GET_PIP_ONLY]
    # Separate processes: an in-process ensurepip hides /etc/pip.conf from pip.
    subprocess.check_call([sys.executable, "-m", "ensurepip", "--upgrade"])
    if args:
        subprocess.check_call([sys.executable, "-m", "pip", "install"] + args)


if __name__ == "__main__":
    main()
'''


def ansible_test_dir(python):
    code = "import ansible_test, os; print(os.path.dirname(os.path.abspath(ansible_test.__file__)))"
    try:
        out = subprocess.run([python, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             universal_newlines=True, check=False)
    except OSError as ex:
        raise SystemExit("seed_ansible_test_pip: cannot run %s: %s" % (python, ex))
    if out.returncode != 0:
        raise SystemExit("seed_ansible_test_pip: ansible-test is not installed for %s:\n%s"
                         % (python, out.stderr.strip()))
    return out.stdout.strip()


def read(path):
    with open(path, encoding="utf-8") as handle:
        return handle.read()


def pip_versions(root):
    """The pip versions that ``get_venv_packages()`` can ask for."""
    path = os.path.join(root, "_internal", "python_requirements.py")
    tree = ast.parse(read(path), path)
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and node.name == "get_venv_packages":
            versions = set()
            for call in ast.walk(node):
                # dict(pip='25.2', ...) in default and per-Python override tables
                if isinstance(call, ast.Call):
                    for keyword in call.keywords:
                        if keyword.arg == "pip" and isinstance(keyword.value, ast.Constant) \
                                and isinstance(keyword.value.value, str):
                            versions.add(keyword.value.value)
                # {'pip': '25.2'} style tables
                if isinstance(call, ast.Dict):
                    for key, value in zip(call.keys, call.values):
                        if isinstance(key, ast.Constant) and key.value == "pip" \
                                and isinstance(value, ast.Constant) and isinstance(value.value, str):
                            versions.add(value.value)
            if versions:
                return sorted(versions)
    raise SystemExit("seed_ansible_test_pip: no pip version found in get_venv_packages() of %s" % path)


def cache_name_template(root):
    """The cache file name pattern, e.g. ``get_pip_%s.py``, from ansible-test's bootstrap code."""
    path = os.path.join(root, "_util", "target", "setup", "requirements.py")
    match = re.search(r"['\"]~/\.ansible/test/cache/(get_pip_%s\.py)['\"]", read(path))
    if not match:
        raise SystemExit("seed_ansible_test_pip: the get-pip cache path was not found in %s; "
                         "this ansible-test bootstraps pip differently" % path)
    return match.group(1)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("python", help="Python of the environment that has ansible-test")
    parser.add_argument("--cache-dir", default=os.path.expanduser("~/.ansible/test/cache"),
                        help="ansible-test's cache directory (default: %(default)s)")
    args = parser.parse_args()

    root = ansible_test_dir(args.python)
    template = cache_name_template(root)
    os.makedirs(args.cache_dir, exist_ok=True)
    content = STAND_IN.format(marker=MARKER)

    for version in pip_versions(root):
        path = os.path.join(args.cache_dir, template % version.replace(".", "_"))
        if os.path.exists(path) and MARKER not in read(path):
            print("seed_ansible_test_pip: keeping the real get-pip script %s" % path)
            continue
        with open(path + ".tmp", "w", encoding="utf-8") as handle:
            handle.write(content)
        os.replace(path + ".tmp", path)
        print("seed_ansible_test_pip: pip %s bootstrap -> %s" % (version, path))
    return 0


if __name__ == "__main__":
    sys.exit(main())
