# Copyright: atlasops.backup contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Credentials for the Atlas Admin API: API keys (HTTP digest) or a service account (OAuth 2.0).

PRIVATE to this collection: may change at any time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

TOKEN_PATH = "/api/oauth/token"
# Where a token that is no longer needed is handed back (RFC 7009, as Atlas documents it).
REVOKE_PATH = "/api/oauth/revoke"
# Renew a token this long before it expires, but never more than a tenth of its life early.
RENEW_MARGIN_SECONDS = 300.0
# Used when a token answer gives no expires_in (OAuth makes it optional); Atlas tokens live an hour.
DEFAULT_LIFETIME_SECONDS = 3600.0
# A longer life than this is not believed: the token is renewed after a day at the latest.
MAX_LIFETIME_SECONDS = 86400.0
# A bearer token longer than this is not a token Atlas issues.
MAX_TOKEN_LENGTH = 16384


class TokenAnswerError(ValueError):
    """A token endpoint answer that cannot be used; the message names the field, never its value."""


@dataclass(frozen=True)
class ApiKey:
    public_key: str
    private_key: str = field(repr=False)


@dataclass(frozen=True)
class ServiceAccount:
    client_id: str
    client_secret: str = field(repr=False)


def check_credentials(credentials) -> None:
    """Refuse credentials that cannot go into an HTTP header, before anything is sent.

    The message names the field only: never the value, the offending character or its position.
    """
    if isinstance(credentials, ApiKey):
        fields = (("public_key", credentials.public_key), ("private_key", credentials.private_key))
    elif isinstance(credentials, ServiceAccount):
        fields = (("client_id", credentials.client_id), ("client_secret", credentials.client_secret))
    else:
        raise ValueError("credentials must be an API key pair or a service account")
    for name, value in fields:
        if not isinstance(value, str) or not value:
            raise ValueError(f"{name} is empty or not a string")
        if not _header_safe(value):
            raise ValueError(f"{name} contains a character that cannot be sent in an HTTP header "
                             "(a control character or one outside Latin-1)")
        if name in ("public_key", "client_id") and ('"' in value or "\\" in value):
            raise ValueError(f"{name} contains a quote or a backslash")


def _header_safe(value: str) -> bool:
    try:
        value.encode("latin-1")
    except UnicodeEncodeError:
        return False
    return not any(ord(char) < 32 or ord(char) == 127 for char in value)


def token_lifetime(value) -> float:
    """expires_in of a token answer as seconds: a positive int or float, or a digit string."""
    if value is None:
        return DEFAULT_LIFETIME_SECONDS
    if isinstance(value, bool):
        raise TokenAnswerError("expires_in is not a number")
    if isinstance(value, str):
        text = value.strip()
        if not (text.isascii() and text.isdigit()) or len(text) > 12:
            raise TokenAnswerError("expires_in is not a positive whole number of seconds")
        value = int(text)
    if not isinstance(value, (int, float)):
        raise TokenAnswerError("expires_in is not a number")
    if isinstance(value, float) and not math.isfinite(value):
        raise TokenAnswerError("expires_in is not a finite number")
    if value < 1:  # a token that lives less than a second cannot serve one request
        raise TokenAnswerError("expires_in is not a positive number of seconds")
    return float(min(value, MAX_LIFETIME_SECONDS))


def token_value(value) -> str:
    if not isinstance(value, str) or not value:
        raise TokenAnswerError("access_token is missing or not a string")
    if len(value) > MAX_TOKEN_LENGTH or not _header_safe(value) or " " in value:
        raise TokenAnswerError("access_token holds characters a bearer token cannot have")
    return value


@dataclass
class BearerToken:
    """An access token, the monotonic time after which it is renewed, and the one at which it expires."""

    value: str = field(repr=False)
    renew_at: float
    expires_at: float = math.inf

    @classmethod
    def from_answer(cls, answer, now: float) -> "BearerToken":
        """The token of a token endpoint answer; TokenAnswerError when the answer cannot be used."""
        if not isinstance(answer, dict):
            raise TokenAnswerError("the answer is not a JSON object")
        value = token_value(answer.get("access_token"))
        lifetime = token_lifetime(answer.get("expires_in"))
        margin = min(RENEW_MARGIN_SECONDS, lifetime / 10)
        return cls(value=value, renew_at=now + lifetime - margin, expires_at=now + lifetime)

    def fresh(self, now: float) -> bool:
        return now < self.renew_at

    def alive(self, now: float) -> bool:
        """Whether Atlas still takes it (so revoking it is worth a request)."""
        return now < self.expires_at
