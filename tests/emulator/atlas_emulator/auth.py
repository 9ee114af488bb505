"""HTTP Digest (RFC 7616, MD5, qop=auth) and OAuth 2.0 client-credentials authentication."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import threading
import time
from urllib.parse import urlsplit

REALM = "MMS Public API"

DEFAULT_PUBLIC_KEY = "emu-public-key"
DEFAULT_PRIVATE_KEY = "emu-private-key-0123456789"
DEFAULT_CLIENT_ID = "mdb_sa_id_emulator"
DEFAULT_CLIENT_SECRET = "mdb_sa_sk_emulator_0123456789"

_PARAM = re.compile(r'([A-Za-z0-9_-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))')


def _md5(text: str) -> str:
    return hashlib.md5(text.encode("utf-8")).hexdigest()  # nosec B324 - MD5 is what RFC 7616 digest uses here


def parse_digest(value: str) -> dict:
    fields = {}
    for match in _PARAM.finditer(value):
        raw = match.group(2) if match.group(2) is not None else match.group(3)
        fields[match.group(1).lower()] = raw.replace('\\"', '"') if raw else raw
    return fields


class AuthResult:
    __slots__ = ("kind", "ok", "principal", "stale", "detail", "token", "nonce")

    def __init__(self, kind, ok=False, principal=None, stale=False, detail="", token=None, nonce=None):
        self.kind = kind  # digest | bearer | basic | none
        self.ok = ok
        self.principal = principal
        self.stale = stale
        self.detail = detail
        self.token = token
        self.nonce = nonce


class Authenticator:
    """Verifies Authorization headers against the credentials of a config dict (read at each call)."""

    def __init__(self, config):
        self._config = config  # a mapping with api_keys, service_accounts, token_ttl, nonce_ttl
        self._lock = threading.Lock()
        self._nonces = {}  # nonce -> [issued_at, max_nc, set(seen nc)]
        self._tokens = {}  # token -> (client_id, expires_at)
        self._counts = {"issued": 0, "revoked": 0, "refused": 0, "peak_active": 0}
        self._opaque = secrets.token_hex(16)

    def reset(self):
        with self._lock:
            self._nonces.clear()
            self._tokens.clear()
            self._counts = dict.fromkeys(self._counts, 0)

    # -- digest ----------------------------------------------------------------------------------

    def challenge(self, stale=False) -> str:
        nonce = secrets.token_hex(16)
        now = time.time()
        with self._lock:
            if len(self._nonces) > 5000:
                ttl = self._nonce_ttl()
                for key in [k for k, v in self._nonces.items() if now - v[0] > ttl]:
                    del self._nonces[key]
            self._nonces[nonce] = [now, 0, set()]
        return 'Digest realm="%s", domain="", nonce="%s", opaque="%s", algorithm=MD5, qop="auth", stale=%s' % (
            REALM, nonce, self._opaque, "true" if stale else "false")

    def _nonce_ttl(self) -> float:
        return float(self._config.get("nonce_ttl") or 1800.0)

    def _password(self, public_key):
        for key in self._config.get("api_keys") or []:
            if key.get("public_key") == public_key:
                return key.get("private_key")
        return None

    def check_digest(self, method: str, request_uri: str, value: str) -> AuthResult:
        fields = parse_digest(value)
        username = fields.get("username")
        result = AuthResult("digest", principal=username)
        needed = ("username", "realm", "nonce", "uri", "response")
        if any(not fields.get(name) for name in needed):
            result.detail = "Incomplete digest credentials."
            return result
        uri = fields["uri"]
        if uri != request_uri:
            parts = urlsplit(uri)
            rebuilt = parts.path + ("?" + parts.query if parts.query else "")
            if rebuilt != request_uri:
                result.detail = "The digest uri does not match the request."
                return result
        password = self._password(username)
        if password is None:
            result.detail = "Invalid API key."
            return result
        algorithm = (fields.get("algorithm") or "MD5").upper()
        if algorithm not in ("MD5", "MD5-SESS"):
            result.detail = "Unsupported digest algorithm %s." % algorithm
            return result
        nonce = fields["nonce"]
        ha1 = _md5("%s:%s:%s" % (username, fields["realm"], password))
        if algorithm == "MD5-SESS":
            ha1 = _md5("%s:%s:%s" % (ha1, nonce, fields.get("cnonce") or ""))
        ha2 = _md5("%s:%s" % (method, uri))
        qop = fields.get("qop")
        if qop == "auth":
            expected = _md5("%s:%s:%s:%s:%s:%s" % (ha1, nonce, fields.get("nc") or "", fields.get("cnonce") or "", qop, ha2))
        elif not qop:
            expected = _md5("%s:%s:%s" % (ha1, nonce, ha2))
        else:
            result.detail = "Unsupported qop %s." % qop
            return result
        if fields.get("realm") != REALM or not hmac.compare_digest(expected, fields["response"]):
            result.detail = "Invalid API key or digest response."
            return result
        result.nonce = nonce
        with self._lock:
            entry = self._nonces.get(nonce)
            if entry is None or time.time() - entry[0] > self._nonce_ttl():
                self._nonces.pop(nonce, None)
                result.stale = True
                result.detail = "The digest nonce is unknown or expired."
                return result
            if qop:
                try:
                    count = int(fields.get("nc") or "", 16)
                except ValueError:
                    result.detail = "Invalid nonce count."
                    return result
                if count in entry[2] or count < entry[1] - 512:
                    result.detail = "Replayed nonce count."
                    return result
                entry[2].add(count)
                entry[1] = max(entry[1], count)
                if len(entry[2]) > 1024:
                    entry[2] = {c for c in entry[2] if c >= entry[1] - 512}
        result.ok = True
        return result

    def forget_nonce(self, nonce):
        with self._lock:
            self._nonces.pop(nonce, None)

    # -- oauth -----------------------------------------------------------------------------------

    def client_ok(self, client_id, client_secret) -> bool:
        for account in self._config.get("service_accounts") or []:
            if account.get("client_id") == client_id and client_id is not None:
                return hmac.compare_digest(str(account.get("client_secret") or ""), str(client_secret or ""))
        return False

    def token_ttl(self) -> float:
        return float(self._config.get("token_ttl") or 3600.0)

    def issue_token(self, client_id, max_active=None):
        """(token, ttl), or (None, 0) when the service account has ``max_active`` live tokens already."""
        ttl = self.token_ttl()
        token = "emu." + secrets.token_urlsafe(32)
        with self._lock:
            now = time.time()
            for key in [k for k, v in self._tokens.items() if v[1] <= now]:
                del self._tokens[key]
            active = sum(1 for owner, dummy in self._tokens.values() if owner == client_id)
            if max_active is not None and active >= max_active:
                self._counts["refused"] += 1
                return None, 0
            self._tokens[token] = (client_id, now + ttl)
            self._counts["issued"] += 1
            self._counts["peak_active"] = max(self._counts["peak_active"], len(self._tokens))
        return token, ttl

    def token_counts(self):
        with self._lock:
            now = time.time()
            return dict(self._counts, active=sum(1 for dummy, expires in self._tokens.values() if expires > now))

    def revoke(self, token):
        with self._lock:
            found = self._tokens.pop(token, None) is not None
            self._counts["revoked"] += found
            return found

    def check_bearer(self, token: str) -> AuthResult:
        result = AuthResult("bearer", token=token)
        with self._lock:
            entry = self._tokens.get(token)
        if entry is None:
            result.detail = "Invalid or revoked access token."
            return result
        client_id, expires_at = entry
        result.principal = client_id
        if time.time() >= expires_at:
            result.detail = "The access token has expired."
            return result
        if not any(a.get("client_id") == client_id for a in self._config.get("service_accounts") or []):
            result.detail = "The service account of this access token no longer exists."
            return result
        result.ok = True
        return result

    # -- dispatch --------------------------------------------------------------------------------

    def check(self, method: str, request_uri: str, header) -> AuthResult:
        if not header:
            return AuthResult("none", detail="You are not authorized for this resource.")
        scheme, _sep, rest = header.strip().partition(" ")
        scheme = scheme.lower()
        if scheme == "digest":
            return self.check_digest(method, request_uri, rest)
        if scheme == "bearer":
            return self.check_bearer(rest.strip())
        if scheme == "basic":
            return AuthResult("basic", detail="Basic authentication is not accepted by the Admin API.")
        return AuthResult("none", detail="Unsupported authorization scheme.")


def parse_basic(header):
    """``Basic base64(id:secret)`` -> (id, secret) or (None, None)."""
    if not header:
        return None, None
    scheme, _sep, rest = header.strip().partition(" ")
    if scheme.lower() != "basic":
        return None, None
    try:
        decoded = base64.b64decode(rest.strip(), validate=True).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        return None, None
    if ":" not in decoded:
        return None, None
    client_id, _sep, secret = decoded.partition(":")
    return client_id, secret
