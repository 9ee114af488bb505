# Copyright: atlasops.backup contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What every atlasops.backup module shares: options, credentials, the client, waiting, and the one error edge.

PRIVATE to this collection: may change at any time.
"""

from __future__ import annotations

import os
import signal
import time
from typing import Callable, NoReturn

from ansible.module_utils.basic import AnsibleModule, env_fallback, missing_required_lib

from ansible_collections.atlasops.backup.plugins.module_utils._auth import ApiKey, ServiceAccount
from ansible_collections.atlasops.backup.plugins.module_utils._backup import ClusterBackup
from ansible_collections.atlasops.backup.plugins.module_utils._client import HAS_REQUESTS, REQUESTS_IMPORT_ERROR, AtlasClient
from ansible_collections.atlasops.backup.plugins.module_utils._endpoints import CLUSTER_TYPES
from ansible_collections.atlasops.backup.plugins.module_utils._errors import AtlasError
from ansible_collections.atlasops.backup.plugins.module_utils._token_cache import shared_token_cache
from ansible_collections.atlasops.backup.plugins.module_utils._validation import InvalidInputError, check_cluster_name, check_hex24
from ansible_collections.atlasops.backup.plugins.module_utils._target import target_is_ready, target_state
from ansible_collections.atlasops.backup.plugins.module_utils._time import iso_utc
from ansible_collections.atlasops.backup.plugins.module_utils._waiter import wait_for, wait_for_jobs

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
    """An AnsibleModule with the collection's shared options, the way from them to Atlas, and one error edge.

    A module builds one, then hands its body to run(): the body fills `result` (also reported when it
    fails) and raises InvalidInputError, AtlasError or ValueError for what goes wrong.
    """

    def __init__(self, argument_spec: dict, **kwargs):
        self._module = AnsibleModule(argument_spec=argument_spec, **kwargs)
        self._clock = time.monotonic
        self.started = self._clock()
        self.params = self._module.params
        self.result: dict = {"changed": False}
        # At the end of the run, also revoke the token shared with this controller's other runs (the fleet wait does).
        self.revoke_shared_token = False
        self._clients: list = []
        self._saved_handlers: dict = {}
        if self.params.get("cluster_type") == "serverless":
            self.warn("Atlas deprecated serverless instances and their backup endpoints: "
                      "migrate the cluster to flex and use cluster_type: flex")

    @property
    def check_mode(self) -> bool:
        return self._module.check_mode

    def warn(self, message: str) -> None:
        self._module.warn(message)

    def fail(self, msg: str, **extra) -> NoReturn:
        self._release()
        self._module.fail_json(msg=msg, **dict(self.result, **extra))
        raise AssertionError("fail_json returned")  # it exits; this line only tells type checkers so

    @property
    def diff_mode(self) -> bool:
        return self._module._diff

    def run(self, body: Callable[[], None]) -> NoReturn:
        """The one error edge: run the body, report its result, or fail with it."""
        try:
            body()
        except AtlasError as error:
            self.fail(str(error), error=error.as_dict())
        except ValueError as error:  # InvalidInputError among them: found before any request
            self.fail(str(error))
        self._release()
        self._module.exit_json(**self.result)
        raise AssertionError("exit_json returned")

    # --- before any request -------------------------------------------------------------------

    def check_connection_options(self) -> None:
        """Identity and connection options, checked before any request."""
        check_hex24("project_id", self.params["project_id"])
        check_cluster_name("cluster_name", self.params["cluster_name"])
        for name in ("request_timeout", "max_retries"):
            if self.params[name] is not None and self.params[name] < 0:
                raise InvalidInputError(f"{name} must not be negative")
        if not self.params["request_timeout"]:
            raise InvalidInputError("request_timeout must be greater than 0")
        if self.params.get("wait_timeout") is not None and self.params["wait_timeout"] < 0:
            raise InvalidInputError("wait_timeout must not be negative")

    # --- the way to Atlas ---------------------------------------------------------------------

    def client(self) -> AtlasClient:
        if not HAS_REQUESTS:
            self.fail(missing_required_lib("requests"), exception=REQUESTS_IMPORT_ERROR)
        credentials = self._credentials()
        token_cache = None
        if isinstance(credentials, ServiceAccount):
            # One token for all the runs of this user on this controller (Atlas allows 100 per service account).
            token_cache, problem = shared_token_cache(self.params["base_url"], credentials.client_id, credentials.client_secret)
            if problem:
                self.warn(problem)
        client = AtlasClient(
            self.params["base_url"], credentials, request_timeout=self.params["request_timeout"],
            max_retries=self.params["max_retries"], validate_certs=self.params["validate_certs"],
            on_secret=self._module.no_log_values.add,  # bearer tokens: Ansible masks them wherever they would show
            token_cache=token_cache,
        )
        self._clients.append(client)
        self._watch_signals()
        if not self.params["validate_certs"]:
            self.warn("validate_certs is false: the TLS certificate of base_url is not checked, so anyone on the network path "
                      "can read and change what is sent, credentials included")
        # The run's time is the client's (injectable in tests): the wait deadline counts from here, before any request.
        self._clock = client.clock
        self.started = self._clock()
        return client

    # --- the end of a run: tokens given back ----------------------------------------------------

    def _release(self) -> None:
        """Revoke the tokens this run holds (and, for the fleet wait, the shared one); once, whatever ends the run."""
        clients, self._clients = self._clients, []
        for client in clients:
            try:
                warnings = client.release(shared=self.revoke_shared_token)
            except Exception:  # pylint: disable=broad-except  # giving tokens back never changes the run's outcome
                warnings = ["the access tokens of this run could not be revoked; Atlas ends them when they expire, within the hour"]
            for warning in warnings:
                self.warn(warning)
        for number, handler in self._saved_handlers.items():
            try:
                signal.signal(number, handler)
            except (ValueError, OSError):
                pass
        self._saved_handlers = {}

    def _watch_signals(self) -> None:
        """An interrupted run (SIGTERM, SIGINT) still revokes what it holds, shared token included: the run that
        would have revoked it may never come."""
        if self._saved_handlers:
            return
        for number in (signal.SIGTERM, signal.SIGINT):
            try:
                self._saved_handlers[number] = signal.signal(number, self._interrupted)
            except (ValueError, OSError):  # not the main thread: nothing to do
                pass

    def _interrupted(self, number, frame) -> None:  # pylint: disable=unused-argument
        self.revoke_shared_token = True
        name = signal.Signals(number).name
        self.fail(f"interrupted by {name}; the access tokens this run held were revoked")

    def backup(self, client: AtlasClient | None = None) -> ClusterBackup:
        """The backup service of the cluster that the identity options name."""
        return ClusterBackup(client or self.client(), self.params["project_id"], self.params["cluster_name"], self.params["cluster_type"])

    def waits(self, *, in_check_mode: bool = False) -> bool:
        """Whether this run waits (wait=true; in check mode only for a module that only reads)."""
        return bool(self.params.get("wait")) and (in_check_mode or not self.check_mode)

    def deadline(self, *, in_check_mode: bool = False) -> float | None:
        """The monotonic time by which a waiting run ends: every request and pause of the run gets only the time left."""
        return self.started + self.params["wait_timeout"] if self.waits(in_check_mode=in_check_mode) else None

    def wait_for_jobs(self, backup: ClusterBackup, jobs: list, *, in_check_mode: bool = False) -> list:
        """Wait for restore jobs (one, or a legacy batch) when this run waits, then fail unless every one completed."""
        if not self.waits(in_check_mode=in_check_mode):
            return jobs
        left = max(0.0, self.deadline(in_check_mode=in_check_mode) - self._clock())
        outcome = wait_for_jobs(backup, jobs, left, clock=self._clock, sleep=backup.client.sleep,
                                shown_timeout=self.params["wait_timeout"])
        # The deadline counts from the start of the run, and so do the seconds waited.
        self.result.update(restore_job=outcome.job, restore_jobs=outcome.jobs, waited_seconds=round(self._clock() - self.started, 3))
        failure = outcome.failure()
        if failure:
            self.fail(failure)
        return outcome.jobs

    def wait_for_target(self, target_backup: ClusterBackup, *, resolved: bool = True) -> str | None:
        """After a completed restore, poll its target cluster until it is ready (IDLE, not paused) within the same deadline.

        Sets and returns target_ready_at: the first time this run saw the target ready (ISO 8601 UTC), or None when
        the credentials may not read the cluster (a warning, not a failure). Fails when the target is still not ready
        at the deadline. resolved=False: the target's family (dedicated or flex) is not known yet and is found on the first read.
        """
        self.result["target_ready_at"] = None
        if not self.waits():
            return None
        left = max(0.0, self.deadline() - self._clock())
        current = [target_backup if resolved else None]
        seen_ready = []

        def fetch(until):
            if current[0] is None:
                current[0], cluster = target_backup.described(deadline=until)
                return cluster
            return current[0].cluster(deadline=until)

        def ready(cluster):
            if target_is_ready(cluster):
                seen_ready.append(time.time())
                return True
            return False

        try:
            outcome = wait_for(fetch, ready, left, clock=self._clock, sleep=target_backup.client.sleep)
        except AtlasError as error:
            if error.status != 403:
                raise
            self.warn(f"the restore completed, but whether target cluster {target_backup.cluster_name} is ready could not be read "
                      f"({error}): target_ready_at is null")
            return None
        if not outcome.done:
            state = target_state(outcome.value) if outcome.value else "unread"
            last = f"; the last poll failed: {outcome.last_error}" if outcome.last_error else ""
            self.fail(f"the restore completed, but target cluster {target_backup.cluster_name} is not ready within wait_timeout "
                      f"({self.params['wait_timeout']:g} s): last seen {state}{last}")
        self.result["target_ready_at"] = iso_utc(seen_ready[0])
        return self.result["target_ready_at"]

    def _credentials(self):
        params = self.params
        service_account_given = any(params[name] for name, dummy in _SERVICE_ACCOUNT_ENV)
        api_key_given = any(params[name] for name, dummy in _API_KEY_ENV)
        if service_account_given and api_key_given:
            raise InvalidInputError("give either client_id and client_secret (service account) or public_key and private_key (API key), "
                                    "not both")
        if service_account_given:
            return ServiceAccount(*self._complete_pair(_SERVICE_ACCOUNT_ENV))
        if api_key_given:
            return ApiKey(*self._complete_pair(_API_KEY_ENV))
        service_account = _pair_from_env(_SERVICE_ACCOUNT_ENV)
        api_key = _pair_from_env(_API_KEY_ENV)
        for pair in (service_account, api_key):
            if pair:
                self._module.no_log_values.add(pair[1])
        if service_account and api_key:
            self.warn("both a service account (MONGODB_ATLAS_CLIENT_ID, MONGODB_ATLAS_CLIENT_SECRET) and an API key are set in the "
                      "environment: using the service account")
        if service_account:
            return ServiceAccount(*service_account)
        if api_key:
            return ApiKey(*api_key)
        for names_and_env in (_SERVICE_ACCOUNT_ENV, _API_KEY_ENV):
            found = [env_names for dummy, env_names in names_and_env if _first_env(env_names)]
            if found:
                missing = [env_names for dummy, env_names in names_and_env if not _first_env(env_names)][0]
                raise InvalidInputError(f"{' or '.join(found[0])} is set in the environment but {' or '.join(missing)} is not: "
                                        "set both, or give the pair in the task")
        raise InvalidInputError(
            "no Atlas credentials: set client_id and client_secret (environment MONGODB_ATLAS_CLIENT_ID and MONGODB_ATLAS_CLIENT_SECRET) "
            "for a service account, or public_key and private_key (environment MONGODB_ATLAS_PUBLIC_API_KEY or MONGODB_ATLAS_PUBLIC_KEY, "
            "and MONGODB_ATLAS_PRIVATE_API_KEY or MONGODB_ATLAS_PRIVATE_KEY) for an API key"
        )

    def _complete_pair(self, names_and_env) -> tuple:
        """The task's pair, a half it left out taken from the environment."""
        values = []
        for name, env_names in names_and_env:
            value = self.params[name] or _first_env(env_names)
            if not value:
                other = [other_name for other_name, dummy in names_and_env if other_name != name][0]
                raise InvalidInputError(f"{other} is set but {name} is not: give {name} in the task or set {' or '.join(env_names)}")
            values.append(value)
        self._module.no_log_values.add(values[1])
        return tuple(values)


def _first_env(names) -> str | None:
    for name in names:
        if os.environ.get(name):
            return os.environ[name]
    return None


def _pair_from_env(names_and_env) -> tuple | None:
    values = tuple(_first_env(env_names) for dummy, env_names in names_and_env)
    return values if all(values) else None
