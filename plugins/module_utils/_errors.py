# Copyright: atlasops.backup contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one exception type of the Atlas client, with hints for the error codes operators meet.

PRIVATE to this collection: may change at any time.
"""

from __future__ import annotations

import re

# Transient answers: worth the same request again after a pause. 501 means "never".
RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})
# A 5xx answer to a POST may come from a gateway after Atlas carried the request out.
AMBIGUOUS_STATUSES = frozenset({500, 502, 503, 504})
# What an error message quotes of an Atlas `detail` (the field itself keeps a little more).
MESSAGE_DETAIL_LIMIT = 500
FIELD_LIMIT = 2000
MASK = "********"

_HINTS_BY_CODE = {
    "CANNOT_USE_FLEX_CLUSTER_IN_CLUSTER_API": "the cluster is a flex cluster: set cluster_type: flex",
    "CANNOT_USE_NON_FLEX_CLUSTER_IN_FLEX_API": "the cluster is not a flex cluster: set cluster_type to dedicated, serverless or legacy",
    "ATLAS_BACKUP_CANCEL_SHARD_RESTORE_JOB_NOT_ALLOWED": "Atlas does not cancel restore jobs of sharded clusters",
    "CLUSTER_NOT_FOUND": "check project_id, cluster_name and cluster_type (serverless and flex clusters have their own endpoints)",
}
# (status, kind of operation) -> hint, for answers whose error code says too little.
_HINTS_BY_STATUS = {
    (404, "create_restore_job"): "check project_id, cluster_name and cluster_type of the source, and the target: "
                                 "target_cluster_name and target_project_id must name an existing cluster",
    (404, None): "check project_id, cluster_name and cluster_type",
}
_VERSION_GONE = "this collection's pinned API version was sunset: upgrade the collection"
_SERVERLESS_GONE = "Atlas retired the serverless endpoints: migrate the cluster to flex and use cluster_type: flex"

# Credentials as a gateway may echo them back: the Authorization schemes and digest fields.
_CREDENTIAL_PATTERNS = (
    re.compile(r"(?i)\b(bearer|basic)(\s+)[A-Za-z0-9._~+/=-]+"),
    re.compile(r"(?i)\b(response|cnonce|nonce|opaque)(\s*=\s*)\"?[^\s\",]+\"?"),
)


class AtlasError(Exception):
    """A request that did not succeed.

    status: the HTTP status, None when no HTTP answer arrived.
    error_code, detail, reason: the fields of Atlas's ApiError body, when it had them (detail cut short).
    operation: the Atlas operation id. hint: what the operator may check, or None.
    transient: a later retry of the same request may succeed.
    ambiguous: the request may have been carried out although its answer was lost or unusable
      (only a POST makes that matter: the caller must look before sending it again).
    timed_out: no complete answer came within the time the request had (request_timeout or the
      time left before the deadline), so the request may still be in flight.
    never_sent: the request provably never reached the server (connection refused, connect
      timeout, name resolution failure, certificate refused, or no time left before the deadline).
    retry_after: seconds the server asked to wait (Retry-After, already bounded), or None.
    attempts: how many times the request was sent (or tried to be) before this error.
    """

    def __init__(self, message: str, *, status: int | None = None, error_code: str | None = None,
                 detail: str | None = None, reason: str | None = None, operation: str | None = None,
                 hint: str | None = None, transient: bool = False, ambiguous: bool = False,
                 retry_after: float | None = None, timed_out: bool = False, never_sent: bool = False,
                 attempts: int = 1):
        self.status = status
        self.error_code = error_code
        self.detail = detail
        self.reason = reason
        self.operation = operation
        self.hint = hint
        self.transient = transient
        self.ambiguous = ambiguous
        self.retry_after = retry_after
        self.timed_out = timed_out
        self.never_sent = never_sent
        self.attempts = attempts
        super().__init__(message)

    def as_dict(self) -> dict:
        return {"status": self.status, "error_code": self.error_code, "detail": self.detail, "reason": self.reason}


def api_error(status: int, body: object, text: str, operation: str, *, role: str | None = None,
              cluster_type: str | None = None, retry_after: float | None = None, ambiguous: bool = False,
              attempts: int = 1, max_retries: int | None = None, secrets=()) -> AtlasError:
    """An AtlasError for an HTTP error answer, with its Atlas ApiError fields when the body has them.

    attempts and max_retries tell how the retries ended (a 429 hint differs when they were spent);
    every value in secrets, and anything that looks like an Authorization value, is masked.
    """
    fields = body if isinstance(body, dict) else {}
    error_code = _text(fields.get("errorCode"), secrets, 200)
    detail = _text(fields.get("detail"), secrets, FIELD_LIMIT) or (_text(text[:300], secrets, 300) if text and not fields else None)
    reason = _text(fields.get("reason"), secrets, 200)
    hint = _hint(status, error_code, role, cluster_type, operation, attempts, max_retries, retry_after)
    message = f"Atlas answered {operation} with HTTP {status}"
    if error_code:
        message += f" {error_code}"
    if detail:
        message += f": {cut(detail, MESSAGE_DETAIL_LIMIT)}"
    if attempts > 1:
        message += f" (after {attempts} tries)"
    if hint:
        message += f" (hint: {hint})"
    return AtlasError(message, status=status, error_code=error_code, detail=detail, reason=reason, operation=operation,
                      hint=hint, transient=status in RETRYABLE_STATUSES, ambiguous=ambiguous, retry_after=retry_after,
                      attempts=attempts)


def redact(text: str, secrets=()) -> str:
    """text with every secret and every Authorization-like value masked."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, MASK)
    for pattern in _CREDENTIAL_PATTERNS:
        text = pattern.sub(lambda match: match.group(1) + match.group(2) + MASK, text)
    return text


def cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + f"... ({len(text) - limit} more characters)"


def _operation_kind(operation: str | None) -> str | None:
    if operation and operation.startswith("create") and operation.endswith("RestoreJob"):
        return "create_restore_job"
    return None


def _hint(status: int, error_code: str | None, role: str | None, cluster_type: str | None, operation: str | None,
          attempts: int, max_retries: int | None, retry_after: float | None) -> str | None:
    if status == 410 or error_code == "VERSION_GONE":
        return _SERVERLESS_GONE if cluster_type == "serverless" else _VERSION_GONE
    if error_code in _HINTS_BY_CODE:
        return _HINTS_BY_CODE[error_code]
    if status == 401:
        return "check the API key pair or the service account credentials, and that they belong to this Atlas organization"
    if status == 403:
        needed = f"; it needs the {role} role on the project" if role else ""
        return f"the credentials are not allowed this operation{needed}, and the caller's IP must be on the API access list if the organization requires one"
    if (status, _operation_kind(operation)) in _HINTS_BY_STATUS:
        return _HINTS_BY_STATUS[(status, _operation_kind(operation))]
    if (status, None) in _HINTS_BY_STATUS:
        return _HINTS_BY_STATUS[(status, None)]
    if status == 429:
        if max_retries is not None and attempts > max_retries:
            tries = "1 try" if attempts == 1 else f"{attempts} tries"
            return f"Atlas kept rate-limiting this request through {tries} (max_retries: {max_retries}): try later or raise max_retries"
        asked = f" for {retry_after:g} s" if retry_after else ""
        return f"Atlas asked to slow down{asked} and the time left before the deadline did not allow another try"
    return None


def _text(value: object, secrets=(), limit: int = FIELD_LIMIT) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        value = str(value) if isinstance(value, (int, float, bool)) else repr(value)[:limit]
    return cut(redact(value, secrets), limit)
