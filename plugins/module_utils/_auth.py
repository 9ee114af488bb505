# Copyright: atlasops.backup contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Credentials for the Atlas Admin API: API keys (HTTP digest) or a service account (OAuth 2.0).

PRIVATE to this collection: may change at any time.
"""

from __future__ import annotations

from dataclasses import dataclass, field

TOKEN_PATH = "/api/oauth/token"
# Renew a token this long before it expires, but never more than a tenth of its life early.
RENEW_MARGIN_SECONDS = 300.0


@dataclass(frozen=True)
class ApiKey:
    public_key: str
    private_key: str = field(repr=False)


@dataclass(frozen=True)
class ServiceAccount:
    client_id: str
    client_secret: str = field(repr=False)


@dataclass
class BearerToken:
    """An access token and the monotonic time after which it is renewed."""

    value: str = field(repr=False)
    renew_at: float

    @classmethod
    def from_answer(cls, answer: dict, now: float) -> "BearerToken":
        lifetime = float(answer.get("expires_in") or 3600)
        margin = min(RENEW_MARGIN_SECONDS, lifetime / 10)
        return cls(value=str(answer["access_token"]), renew_at=now + lifetime - margin)

    def fresh(self, now: float) -> bool:
        return now < self.renew_at
