# Copyright: atlasops.backup contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One service-account access token shared by the module runs of one user on one controller.

A fleet run makes hundreds of module runs; a token each would pass Atlas's 100 active tokens per
service account and its token endpoint rate. So the runs share one token through a file:
- in a private directory (a real directory, owned by this user, that no one else may enter: any
  other is refused, never repaired), the file itself 0600 and owned by this user;
- named by a hash of the base URL, the client id and the secret, so that only runs holding the
  same credentials for the same Atlas share it;
- read and renewed under an exclusive lock (fcntl), so that concurrent runs that find no usable
  token fetch one, not one each; written atomically (a new file renamed over the old one);
- used until shortly before it expires (the rule of BearerToken).
Nothing here ever puts the token into a message.

PRIVATE to this collection: may change at any time.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import secrets
import stat
import time

try:
    import fcntl
except ImportError:  # not on POSIX: no shared cache
    fcntl = None

from ansible_collections.atlasops.backup.plugins.module_utils._auth import BearerToken, TokenAnswerError, token_value

# The directory, or one of these words to turn the cache off.
ENV_NAME = "ATLASOPS_BACKUP_TOKEN_CACHE"
OFF_WORDS = frozenset({"off", "false", "no", "0", "none", "disabled"})
# A cache file is a few hundred bytes; anything larger is not ours.
MAX_FILE_BYTES = 64 * 1024
_FORMAT = 1


class TokenCacheError(Exception):
    """The cache cannot be used (a directory that is not private, no locking); the message names the path, never a token."""


def cache_directory(environ=None) -> str | None:
    """Where the cache lives: $ATLASOPS_BACKUP_TOKEN_CACHE, else $XDG_RUNTIME_DIR/atlasops.backup (memory, per user),
    else ~/.cache/atlasops.backup/tokens; None when turned off."""
    environ = os.environ if environ is None else environ
    given = (environ.get(ENV_NAME) or "").strip()
    if given.lower() in OFF_WORDS and given:
        return None
    if given:
        return os.path.abspath(os.path.expanduser(given))
    runtime = environ.get("XDG_RUNTIME_DIR") or ""
    if os.path.isabs(runtime) and os.path.isdir(runtime):
        return os.path.join(runtime, "atlasops.backup")
    return os.path.join(os.path.expanduser("~"), ".cache", "atlasops.backup", "tokens")


def _private_enough(info: os.stat_result, kind) -> str | None:
    """Why a file or directory is not private to this user, or None."""
    if not kind(info.st_mode):
        return "not a " + ("directory" if kind is stat.S_ISDIR else "regular file")
    if info.st_uid != os.geteuid():
        return "owned by another user"
    if stat.S_IMODE(info.st_mode) & 0o077:
        return f"open to other users (mode {stat.S_IMODE(info.st_mode):04o})"
    return None


class TokenCache:
    """The shared token of one (base URL, service account), in a private directory.

    wall (epoch seconds) and sleep are injectable for tests. A cache that cannot be read or written
    at some moment is simply not used at that moment: the caller fetches a token of its own.
    """

    def __init__(self, directory: str, base_url: str, client_id: str, client_secret: str, *, wall=time.time,
                 sleep=time.sleep):
        if fcntl is None:
            raise TokenCacheError("file locking (fcntl) is not available on this system")
        self.directory = directory
        self._wall = wall
        self._sleep = sleep
        secret_digest = hashlib.sha256(client_secret.encode("utf-8")).hexdigest()
        key = hashlib.sha256(json.dumps([base_url, client_id, secret_digest]).encode("utf-8")).hexdigest()[:40]
        self._file = key + ".token"
        self._lock = key + ".lock"
        self._dir_fd = self._open_directory()

    # --- what the client asks -------------------------------------------------------------------

    def obtain(self, fetch, *, now: float, avoid=frozenset(), lock_wait: float = 60.0):
        """(token, shared, displaced): the shared token when it is fresh and not in avoid, else fetch() stored as the shared one.

        now is the caller's monotonic time (the token's times are converted to it). shared: whether the token is
        the one in the cache (False: the caller's own, when the cache could not be used). displaced: the token
        this call replaced in the cache, still alive, not in avoid (the caller revokes it), or None.
        fetch() errors pass through; the lock is released whatever happens.
        """
        lock = self._acquire(lock_wait)
        try:
            entry = self._read() if lock is not None else None
            wall = self._wall()
            if entry is not None and entry[0] not in avoid and wall < entry[1]:
                return self._bearer(entry, now, wall), True, None
            token = fetch()
            if lock is None or not self._write(token, now, wall):
                return token, False, None
            displaced = None
            if entry is not None and entry[0] != token.value and entry[0] not in avoid and wall < entry[2]:
                displaced = self._bearer(entry, now, wall)
            return token, True, displaced
        finally:
            self._release(lock)

    def take(self, *, now: float, lock_wait: float = 2.0) -> BearerToken | None:
        """Remove the shared token from the cache and return it when it is still alive (for revocation), else None."""
        lock = self._acquire(lock_wait)
        if lock is None:
            return None
        try:
            entry = self._read()
            try:
                os.unlink(self._file, dir_fd=self._dir_fd)
            except OSError:
                pass
            wall = self._wall()
            return self._bearer(entry, now, wall) if entry is not None and wall < entry[2] else None
        finally:
            self._release(lock)

    def forget(self, value: str, *, lock_wait: float = 2.0) -> None:
        """Remove the shared token if it is this one (a run revoked it)."""
        lock = self._acquire(lock_wait)
        if lock is None:
            return
        try:
            entry = self._read()
            if entry is not None and entry[0] == value:
                os.unlink(self._file, dir_fd=self._dir_fd)
        except OSError:
            pass
        finally:
            self._release(lock)

    def close(self) -> None:
        if self._dir_fd is not None:
            os.close(self._dir_fd)
            self._dir_fd = None

    # --- the directory, the lock and the file ---------------------------------------------------

    def _open_directory(self) -> int:
        path = self.directory
        try:
            os.makedirs(path, mode=0o700, exist_ok=True)
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_NOFOLLOW", 0))
        except OSError as error:
            why = "a symbolic link" if error.errno in (errno.ELOOP, errno.ENOTDIR) else (error.strerror or "cannot be opened")
            raise TokenCacheError(f"the token cache directory {path} cannot be used: {why}") from None
        problem = _private_enough(os.fstat(fd), stat.S_ISDIR)
        if problem:
            os.close(fd)
            raise TokenCacheError(f"the token cache directory {path} is {problem}: refused (it must be a directory of this "
                                  "user with mode 0700)")
        return fd

    def _acquire(self, wait: float):
        """The lock file's descriptor, locked; None when the lock cannot be had within wait seconds."""
        try:
            fd = os.open(self._lock, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o600, dir_fd=self._dir_fd)
        except OSError:
            return None
        if _private_enough(os.fstat(fd), stat.S_ISREG):
            os.close(fd)
            return None
        start = self._wall()
        pause = 0.02
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return fd
            except OSError as error:
                if error.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK, errno.EINTR):
                    os.close(fd)
                    return None
            if self._wall() - start >= wait:
                os.close(fd)
                return None
            self._sleep(pause)
            pause = min(0.2, pause * 2)

    @staticmethod
    def _release(fd) -> None:
        if fd is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_UN)
            finally:
                os.close(fd)

    def _read(self):
        """(value, renew_at, expires_at) in epoch seconds, or None when there is no usable entry."""
        try:
            fd = os.open(self._file, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0), dir_fd=self._dir_fd)
        except OSError:
            return None
        try:
            if _private_enough(os.fstat(fd), stat.S_ISREG):
                return None
            content = os.read(fd, MAX_FILE_BYTES + 1)
        except OSError:
            return None
        finally:
            os.close(fd)
        try:
            entry = json.loads(content.decode("utf-8")) if len(content) <= MAX_FILE_BYTES else None
            if not isinstance(entry, dict) or entry.get("format") != _FORMAT:
                return None
            value = token_value(entry.get("access_token"))
            renew_at, expires_at = (float(entry[name]) for name in ("renew_at", "expires_at"))
        except (ValueError, TypeError, KeyError, TokenAnswerError, UnicodeDecodeError):
            return None
        return value, renew_at, expires_at

    def _write(self, token: BearerToken, now: float, wall: float) -> bool:
        entry = {"format": _FORMAT, "access_token": token.value, "renew_at": wall + (token.renew_at - now),
                 "expires_at": wall + (min(token.expires_at, token.renew_at + 86400.0) - now)}
        temporary = f".{self._file}.{secrets.token_hex(8)}"
        try:
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600,
                         dir_fd=self._dir_fd)
        except OSError:
            return False
        try:
            try:
                os.write(fd, json.dumps(entry).encode("utf-8"))
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(temporary, self._file, src_dir_fd=self._dir_fd, dst_dir_fd=self._dir_fd)
            return True
        except OSError:
            try:
                os.unlink(temporary, dir_fd=self._dir_fd)
            except OSError:
                pass
            return False

    @staticmethod
    def _bearer(entry, now: float, wall: float) -> BearerToken:
        value, renew_at, expires_at = entry
        return BearerToken(value=value, renew_at=now + (renew_at - wall), expires_at=now + (expires_at - wall))


def shared_token_cache(base_url: str, client_id: str, client_secret: str, environ=None, **kwargs):
    """(cache or None, warning or None): the cache this user's runs share, None when turned off or refused."""
    directory = cache_directory(environ)
    if directory is None:
        return None, None
    try:
        return TokenCache(directory, base_url, client_id, client_secret, **kwargs), None
    except TokenCacheError as error:
        return None, f"{error}; each module run fetches its own access token and revokes it at its end"
