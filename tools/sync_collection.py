"""Mirror the collection's source tree into an ``ansible_collections/<ns>/<name>`` directory.

ansible-test and ansible-doc need the collection at
``.../ansible_collections/atlasops/backup``; the repository root is the
collection root, so ``make collection`` mirrors it there.

Files mirrored: in a git checkout, ``git ls-files -co --exclude-standard``
(tracked files plus untracked files that are not ignored); otherwise every file
except virtual environments, build output and caches.  Either way ``.git``,
``.venv*``, ``.build``, ``tests/output`` and Python caches are never copied.

Files in the destination that are no longer in the source are deleted, except
under ``tests/output/`` (ansible-test's venvs, caches and results), which is kept.
Unchanged files are not rewritten, so their timestamps stay put.

With ``--git-init`` the destination becomes a git work tree of its own (no
commits: ``git init`` only).  ansible-test looks for ``.git`` in the collection
root and then in every parent directory; without one in the mirror it would
find this repository's, which ignores ``.build/``, list no files from there and
skip every test ("All targets skipped").  With its own ``.git`` the mirror is
listed with ``git ls-files -co --exclude-standard`` under the copied
``.gitignore``, as a checkout of the repository would be.

Usage::

    sync_collection.py SRC DEST [--keep REL_PATH ...] [--git-init] [-v]
"""

import argparse
import filecmp
import os
import shutil
import subprocess
import sys

EXCLUDED_DIRS = {".git", ".build", "__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache", ".tox", ".nox"}
EXCLUDED_DIR_PREFIXES = (".venv",)
EXCLUDED_PATHS = {"tests/output"}
EXCLUDED_SUFFIXES = (".pyc", ".pyo")


def excluded(rel):
    parts = rel.split("/")
    for index, part in enumerate(parts):
        if part in EXCLUDED_DIRS or part.startswith(EXCLUDED_DIR_PREFIXES):
            return True
        if "/".join(parts[: index + 1]) in EXCLUDED_PATHS:
            return True
    return rel.endswith(EXCLUDED_SUFFIXES)


def git_files(src):
    """Files git would show for SRC, or None when SRC is not the top of a git work tree."""
    try:
        top = subprocess.run(["git", "-C", src, "rev-parse", "--show-toplevel"],
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                             universal_newlines=True, check=False)
    except OSError:
        return None
    if top.returncode != 0 or os.path.realpath(top.stdout.strip()) != os.path.realpath(src):
        return None
    out = subprocess.run(["git", "-C", src, "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                         stdout=subprocess.PIPE, check=True)
    names = [name for name in out.stdout.decode("utf-8", "surrogateescape").split("\0") if name]
    # a tracked file deleted from the work tree is listed but absent: skip it
    return sorted({n for n in names if os.path.lexists(os.path.join(src, n))})


def walk_files(src):
    files = []
    for root, dirs, names in os.walk(src):
        rel_root = os.path.relpath(root, src)
        rel_root = "" if rel_root == "." else rel_root.replace(os.sep, "/") + "/"
        dirs[:] = sorted(d for d in dirs if not excluded(rel_root + d))
        for name in names:
            files.append(rel_root + name)
    return sorted(files)


def same(src_path, dst_path):
    if os.path.islink(src_path) or os.path.islink(dst_path):
        return (os.path.islink(src_path) and os.path.islink(dst_path)
                and os.readlink(src_path) == os.readlink(dst_path))
    if not os.path.isfile(dst_path):
        return False
    if os.stat(src_path).st_mode & 0o777 != os.stat(dst_path).st_mode & 0o777:
        return False
    return filecmp.cmp(src_path, dst_path, shallow=False)


def remove(path):
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    elif os.path.lexists(path):
        os.unlink(path)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("src")
    parser.add_argument("dest")
    parser.add_argument("--keep", action="append", default=["tests/output"],
                        help="destination path kept even though it is not in the source (repeatable)")
    parser.add_argument("--git-init", action="store_true",
                        help="make DEST a git work tree of its own (for ansible-test)")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args()

    src = os.path.abspath(args.src)
    dest = os.path.abspath(args.dest)
    if dest == src or dest.startswith(src + os.sep) and not dest.startswith(os.path.join(src, ".build") + os.sep):
        raise SystemExit("sync_collection: refusing to mirror %s into itself (%s)" % (src, dest))

    listed = git_files(src)
    mode = "git" if listed is not None else "walk"
    files = [f for f in (listed if listed is not None else walk_files(src)) if not excluded(f)]
    wanted = set(files)
    keep = tuple(k.strip("/") for k in args.keep) + (".git",)

    copied = deleted = 0
    os.makedirs(dest, exist_ok=True)
    for rel in files:
        src_path = os.path.join(src, rel)
        dst_path = os.path.join(dest, rel)
        if os.path.isdir(src_path) and not os.path.islink(src_path):
            continue  # a git submodule or an empty directory entry: nothing to copy
        if same(src_path, dst_path):
            continue
        parent = os.path.dirname(dst_path)
        if os.path.lexists(parent) and not os.path.isdir(parent):
            remove(parent)
        os.makedirs(parent, exist_ok=True)
        if os.path.lexists(dst_path):
            remove(dst_path)
        if os.path.islink(src_path):
            os.symlink(os.readlink(src_path), dst_path)
        else:
            shutil.copy2(src_path, dst_path)
        copied += 1
        if args.verbose:
            print("  copy   %s" % rel)

    # delete what is no longer in the source, keeping the --keep subtrees (and .git)
    wanted_dirs = {os.path.dirname(f) for f in files}
    for d in list(wanted_dirs):
        while d:
            d = os.path.dirname(d)
            wanted_dirs.add(d)

    def kept(rel):
        return any(rel == k or rel.startswith(k + "/") for k in keep)

    visited = []
    for root, dirs, names in os.walk(dest):
        rel_root = os.path.relpath(root, dest)
        rel_root = "" if rel_root == "." else rel_root.replace(os.sep, "/")
        prefix = rel_root + "/" if rel_root else ""
        dirs[:] = [d for d in dirs if not kept(prefix + d)]  # never descend into kept trees
        visited.append(rel_root)
        for name in names + [d for d in dirs if os.path.islink(os.path.join(root, d))]:
            rel = prefix + name
            if rel not in wanted and not kept(rel):
                remove(os.path.join(root, name))
                deleted += 1
                if args.verbose:
                    print("  delete %s" % rel)
    for rel_root in reversed(visited):  # children before parents
        if rel_root and rel_root not in wanted_dirs and not any(k.startswith(rel_root + "/") for k in keep):
            try:
                os.rmdir(os.path.join(dest, rel_root))
            except OSError:
                pass  # not empty: holds a kept path

    if args.git_init and not os.path.isdir(os.path.join(dest, ".git")):
        try:
            subprocess.run(["git", "init", "--quiet", dest], check=True)
        except (OSError, subprocess.CalledProcessError) as ex:
            sys.stderr.write("sync_collection: warning: git init %s failed (%s); ansible-test may find "
                             "an enclosing repository's .git instead\n" % (dest, ex))

    print("sync_collection: %d files from %s (%s), %d copied, %d deleted -> %s"
          % (len(files), src, mode, copied, deleted, dest))
    return 0


if __name__ == "__main__":
    sys.exit(main())
