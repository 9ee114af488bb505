# Copyright: atlasops.backup contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one exception type of the Atlas client, with hints for the error codes operators meet.

PRIVATE to this collection: may change at any time.
"""

from __future__ import annotations

# Transient answers: worth the same request again after a pause. 501 means "never".
RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})

_HINTS_BY_CODE = {
    "CANNOT_USE_FLEX_CLUSTER_IN_CLUSTER_API": "the cluster is a flex cluster: set cluster_type: flex",
    "CANNOT_USE_NON_FLEX_CLUSTER_IN_FLEX_API": "the cluster is not a flex cluster: set cluster_type to dedicated, serverless or legacy",
    "ATLAS_BACKUP_CANCEL_SHARD_RESTORE_JOB_NOT_ALLOWED": "Atlas does not cancel restore jobs of sharded clusters",
    "CLUSTER_NOT_FOUND": "check project_id, cluster_name and cluster_type (serverless and flex clusters have their own endpoints)",
}
_VERSION_GONE = "this collection's pinned API version was sunset: upgrade the collection"
_SERVERLESS_GONE = "Atlas retired the serverless endpoints: migrate the cluster to flex and use cluster_type: flex"


class AtlasError(Exception):
    """A request that did not succeed.

    status is None when no HTTP answer arrived. transient says a later retry may succeed;
    ambiguous says the request may have been carried out although its answer was lost
    (only a POST makes that matter: the caller must look before sending it again). timed_out says
    no answer came within the request timeout, so the request may still be in flight.
    """

    def __init__(self, message: str, *, status: int | None = None, error_code: str | None = None,
                 detail: str | None = None, reason: str | None = None, operation: str | None = None,
                 hint: str | None = None, transient: bool = False, ambiguous: bool = False,
                 retry_after: float | None = None, timed_out: bool = False):
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
        super().__init__(message)

    def as_dict(self) -> dict:
        return {"status": self.status, "error_code": self.error_code, "detail": self.detail, "reason": self.reason}


def api_error(status: int, body: object, text: str, operation: str, *, role: str | None = None,
              cluster_type: str | None = None, retry_after: float | None = None,
              ambiguous: bool = False) -> AtlasError:
    """An AtlasError for an HTTP error answer, with its Atlas ApiError fields when the body has them."""
    fields = body if isinstance(body, dict) else {}
    error_code = _text(fields.get("errorCode"))
    detail = _text(fields.get("detail")) or (_text(text[:300]) if text and not fields else None)
    reason = _text(fields.get("reason"))
    hint = _hint(status, error_code, role, cluster_type)
    parts = [f"Atlas answered {operation} with HTTP {status}"]
    if error_code:
        parts.append(error_code)
    message = " ".join(parts)
    if detail:
        message += f": {detail}"
    if hint:
        message += f" (hint: {hint})"
    return AtlasError(message, status=status, error_code=error_code, detail=detail, reason=reason, operation=operation,
                      hint=hint, transient=status in RETRYABLE_STATUSES, ambiguous=ambiguous, retry_after=retry_after)


def _hint(status: int, error_code: str | None, role: str | None, cluster_type: str | None) -> str | None:
    if status == 410 or error_code == "VERSION_GONE":
        return _SERVERLESS_GONE if cluster_type == "serverless" else _VERSION_GONE
    if error_code in _HINTS_BY_CODE:
        return _HINTS_BY_CODE[error_code]
    if status == 401:
        return "check the API key pair or the service account credentials, and that they belong to this Atlas organization"
    if status == 403:
        needed = f"; it needs the {role} role on the project" if role else ""
        return f"the credentials are not allowed this operation{needed}, and the caller's IP must be on the API access list if the organization requires one"
    if status == 404:
        return "check project_id, cluster_name and cluster_type"
    if status == 429:
        return "Atlas kept rate-limiting this request: try later or raise max_retries"
    return None


def _text(value: object) -> str | None:
    if value is None:
        return None
    return str(value)
