# Copyright: atlasops.backup contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What every atlasops.backup module shares: options, credentials, the client, and error reports.

PRIVATE to this collection: may change at any time.
"""

from __future__ import annotations

import os

from ansible.module_utils.basic import AnsibleModule, env_fallback, missing_required_lib

from ansible_collections.atlasops.backup.plugins.module_utils._auth import ApiKey, ServiceAccount
from ansible_collections.atlasops.backup.plugins.module_utils._client import HAS_REQUESTS, REQUESTS_IMPORT_ERROR, AtlasClient
from ansible_collections.atlasops.backup.plugins.module_utils._endpoints import CLUSTER_TYPES
from ansible_collections.atlasops.backup.plugins.module_utils._errors import AtlasError
from ansible_collections.atlasops.backup.plugins.module_utils._validation import InvalidInputError, check_cluster_name, check_hex24

DEFAULT_BASE_URL = "https://cloud.mongodb.com"

CONNECTION_ARGSPEC = dict(
    base_url=dict(type="str", default=DEFAULT_BASE_URL, fallback=(env_fallback, ["MONGODB_ATLAS_BASE_URL"])),
    # The four credential options read the environment only after parsing (see _credentials), so
    # that a pair given in the task always beats the other pair found in the environment.
    client_id=dict(type="str", no_log=False),
    client_secret=dict(type="str", no_log=True),
    public_key=dict(type="str", no_log=False),
    private_key=dict(type="str", no_log=True),
    validate_certs=dict(type="bool", default=True),
    request_timeout=dict(type="float", default=30.0),
    max_retries=dict(type="int", default=5),
)

IDENTITY_ARGSPEC = dict(
    project_id=dict(type="str", required=True, aliases=["group_id"]),
    cluster_name=dict(type="str", required=True),
    cluster_type=dict(type="str", default="dedicated", choices=list(CLUSTER_TYPES)),
)

WAIT_ARGSPEC = dict(
    wait=dict(type="bool", default=False),
    wait_timeout=dict(type="int", default=3600),
)

_SERVICE_ACCOUNT_ENV = (("client_id", ("MONGODB_ATLAS_CLIENT_ID",)), ("client_secret", ("MONGODB_ATLAS_CLIENT_SECRET",)))
_API_KEY_ENV = (
    ("public_key", ("MONGODB_ATLAS_PUBLIC_API_KEY", "MONGODB_ATLAS_PUBLIC_KEY")),
    ("private_key", ("MONGODB_ATLAS_PRIVATE_API_KEY", "MONGODB_ATLAS_PRIVATE_KEY")),
)


def argument_spec(**module_options) -> dict:
    """The connection and identity options plus the module's own."""
    spec = dict(CONNECTION_ARGSPEC)
    spec.update(IDENTITY_ARGSPEC)
    spec.update(module_options)
    return spec


class AtlasModule:
    """An AnsibleModule with the collection's shared options, and the way from them to a client."""

    def __init__(self, argument_spec: dict, **kwargs):
        self.module = AnsibleModule(argument_spec=argument_spec, **kwargs)
        self.params = self.module.params
        if self.params.get("cluster_type") == "serverless":
            self.module.warn("Atlas deprecated serverless instances and their backup endpoints: "
                             "migrate the cluster to flex and use cluster_type: flex")

    @property
    def check_mode(self) -> bool:
        return self.module.check_mode

    def warn(self, message: str) -> None:
        self.module.warn(message)

    def fail(self, msg: str, **result) -> None:
        self.module.fail_json(msg=msg, **result)

    def fail_error(self, error: AtlasError, **result) -> None:
        self.module.fail_json(msg=str(error), error=error.as_dict(), **result)

    def check_inputs(self, checks) -> list:
        """Run input checks (callables raising InvalidInputError) and fail before any request.

        Returns what the checks return (a check may hand back the value it parsed).
        """
        try:
            check_hex24("project_id", self.params["project_id"])
            check_cluster_name("cluster_name", self.params["cluster_name"])
            for name in ("request_timeout", "max_retries"):
                if self.params[name] is not None and self.params[name] < 0:
                    raise InvalidInputError(f"{name} must not be negative")
            if not self.params["request_timeout"]:
                raise InvalidInputError("request_timeout must be greater than 0")
            if self.params.get("wait_timeout") is not None and self.params["wait_timeout"] < 0:
                raise InvalidInputError("wait_timeout must not be negative")
            return [check() for check in checks]
        except InvalidInputError as error:
            self.fail(str(error))
        return []

    def client(self) -> AtlasClient:
        if not HAS_REQUESTS:
            self.fail(missing_required_lib("requests"), exception=REQUESTS_IMPORT_ERROR)
        credentials = self._credentials()
        try:
            return AtlasClient(
                self.params["base_url"], credentials, request_timeout=self.params["request_timeout"],
                max_retries=self.params["max_retries"], validate_certs=self.params["validate_certs"],
            )
        except ValueError as error:
            self.fail(str(error))

    def _credentials(self):
        params = self.params
        service_account_given = any(params[name] for name, dummy in _SERVICE_ACCOUNT_ENV)
        api_key_given = any(params[name] for name, dummy in _API_KEY_ENV)
        if service_account_given and api_key_given:
            self.fail("give either client_id and client_secret (service account) or public_key and private_key (API key), not both")
        if service_account_given:
            return ServiceAccount(*self._complete_pair(_SERVICE_ACCOUNT_ENV))
        if api_key_given:
            return ApiKey(*self._complete_pair(_API_KEY_ENV))
        service_account = _pair_from_env(_SERVICE_ACCOUNT_ENV)
        api_key = _pair_from_env(_API_KEY_ENV)
        for pair in (service_account, api_key):
            if pair:
                self.module.no_log_values.add(pair[1])
        if service_account and api_key:
            self.warn("both a service account (MONGODB_ATLAS_CLIENT_ID, MONGODB_ATLAS_CLIENT_SECRET) and an API key are set in the "
                      "environment: using the service account")
        if service_account:
            return ServiceAccount(*service_account)
        if api_key:
            return ApiKey(*api_key)
        self.fail(
            "no Atlas credentials: set client_id and client_secret (environment MONGODB_ATLAS_CLIENT_ID and MONGODB_ATLAS_CLIENT_SECRET) "
            "for a service account, or public_key and private_key (environment MONGODB_ATLAS_PUBLIC_API_KEY or MONGODB_ATLAS_PUBLIC_KEY, "
            "and MONGODB_ATLAS_PRIVATE_API_KEY or MONGODB_ATLAS_PRIVATE_KEY) for an API key"
        )
        return None

    def _complete_pair(self, names_and_env) -> tuple:
        """The task's pair, a half it left out taken from the environment."""
        values = []
        for name, env_names in names_and_env:
            value = self.params[name] or _first_env(env_names)
            if not value:
                other = [other_name for other_name, dummy in names_and_env if other_name != name][0]
                self.fail(f"{other} is set but {name} is not: give {name} in the task or set {' or '.join(env_names)}")
            values.append(value)
        self.module.no_log_values.add(values[1])
        return tuple(values)


def _first_env(names) -> str | None:
    for name in names:
        if os.environ.get(name):
            return os.environ[name]
    return None


def _pair_from_env(names_and_env) -> tuple | None:
    values = tuple(_first_env(env_names) for dummy, env_names in names_and_env)
    return values if all(values) else None
