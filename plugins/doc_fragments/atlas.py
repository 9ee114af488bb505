# Copyright: atlasops.backup contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # The connection options of every module (credentials, host, timeouts, retries), and the notes about them.
    DOCUMENTATION = r"""
options:
  base_url:
    description:
      - The Atlas Administration API host.
      - Atlas for Government is V(https://cloud.mongodbgov.com).
      - If not set, the environment variable E(MONGODB_ATLAS_BASE_URL) is used.
    type: str
    default: https://cloud.mongodb.com
  client_id:
    description:
      - Client ID of an Atlas service account (OAuth 2.0 client credentials).
      - Required together with O(client_secret).
      - If neither pair of credentials is set in the task, the environment variables E(MONGODB_ATLAS_CLIENT_ID) and
        E(MONGODB_ATLAS_CLIENT_SECRET) are used.
      - When the environment holds both a service account and an API key, the service account is used, with a warning.
    type: str
  client_secret:
    description:
      - Client secret of the service account named by O(client_id).
      - If not set, the environment variable E(MONGODB_ATLAS_CLIENT_SECRET) is used.
    type: str
  public_key:
    description:
      - Public key of an Atlas programmatic API key (HTTP digest user name).
      - Required together with O(private_key).
      - Cannot be combined with O(client_id) and O(client_secret) in the same task.
      - If neither pair of credentials is set in the task, the environment variable E(MONGODB_ATLAS_PUBLIC_API_KEY) is used,
        then E(MONGODB_ATLAS_PUBLIC_KEY).
    type: str
  private_key:
    description:
      - Private key of the API key named by O(public_key).
      - If not set, the environment variable E(MONGODB_ATLAS_PRIVATE_API_KEY) is used, then E(MONGODB_ATLAS_PRIVATE_KEY).
    type: str
  validate_certs:
    description:
      - Whether to verify the TLS certificate of O(base_url).
    type: bool
    default: true
  request_timeout:
    description:
      - Seconds allowed for one HTTP exchange with Atlas.
    type: float
    default: 30
  max_retries:
    description:
      - How many times one request is retried after HTTP 429, a 5xx answer other than 501, a lost connection or a timeout.
      - Retries wait with exponential backoff and jitter, and at least as long as the C(Retry-After) header asks.
      - A request that creates a restore job is never sent again blindly after its answer was lost; the module first looks
        for the job that the lost request may have created.
    type: int
    default: 5

notes:
  - Credentials given in the task (or through C(module_defaults) for the action group C(group/atlasops.backup.atlas)) are used
    before any found in the environment.
  - Secrets never appear in results, warnings or error messages.
  - "Service accounts: the module runs of one user on one controller share one access token through a private cache file
    (in E(ATLASOPS_BACKUP_TOKEN_CACHE), else C($XDG_RUNTIME_DIR/atlasops.backup), else C(~/.cache/atlasops.backup/tokens);
    the directory must be this user's with mode 0700, or it is not used). Set E(ATLASOPS_BACKUP_TOKEN_CACHE=off) to give each
    run its own token. A run that renews a token revokes the one it replaced; a run without the cache, and an interrupted run
    (SIGTERM, SIGINT), revokes what it holds; M(atlasops.backup.restore_job_wait) revokes the shared token at its end."
requirements:
  - requests >= 2.25
"""

    # The identity options of the modules that act on one cluster (restore_job_wait has them as defaults of its own).
    IDENTITY = r"""
options:
  project_id:
    description:
      - ID of the Atlas project (group) that holds the source cluster, 24 hexadecimal characters.
    type: str
    required: true
    aliases: [group_id]
  cluster_name:
    description:
      - Name of the source cluster.
    type: str
    required: true
  cluster_type:
    description:
      - Which family of Atlas backup endpoints serves the cluster.
      - V(dedicated) is Cloud Backup of dedicated (M10 and larger) clusters.
      - V(flex) is a flex cluster.
      - V(serverless) is a serverless instance; Atlas deprecated these endpoints in favour of flex.
      - V(legacy) is the legacy backup of clusters that never moved to Cloud Backup.
    type: str
    default: dedicated
    choices: [dedicated, flex, serverless, legacy]
"""

    # What each attribute means; every module says its own support (and INFO_MODULE does for the read-only ones).
    ATTRIBUTES = r"""
attributes:
  action_group:
    description: Use C(group/atlasops.backup.atlas) in C(module_defaults) to set defaults for this module.
    support: full
    membership:
      - atlasops.backup.atlas
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
  idempotent:
    description: When run twice in a row outside check mode, with the same arguments, the second invocation indicates no change.
"""

    INFO_MODULE = r"""
attributes:
  check_mode:
    support: full
    details:
      - This module only reads from Atlas.
  diff_mode:
    support: N/A
    details:
      - This module only reads from Atlas.
  idempotent:
    support: full
"""

    WAIT = r"""
options:
  wait:
    description:
      - Block until the restore job reaches a terminal status (completed, failed, cancelled or expired).
      - Polls after a tenth of the job's age, at least 2 and at most 60 seconds later (every 2 seconds for the first 20
        seconds, once a minute after 10 minutes), and at least as long as C(Retry-After) asks. So a job's end is noticed within
        a tenth of the time it ran, and re-attaching to a job that has run for hours starts at one poll a minute.
      - Rate limits, 5xx answers, lost connections and token renewals do not end the wait; only O(wait_timeout), or an error
        such as HTTP 401, 403 or 404, does.
      - The module fails when the job ends failed, cancelled or expired, or on timeout, with the job as last seen in the result.
    type: bool
    default: false
  wait_timeout:
    description:
      - Seconds to wait with O(wait=true).
    type: int
    default: 3600
"""
