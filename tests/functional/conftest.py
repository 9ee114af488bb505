# Copyright: atlasops.backup contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fixtures: one Atlas emulator per test session, and real ansible-playbook runs against it (tests/harness.py).

Under pytest-xdist each worker is a session of its own: its own emulator (on a port of its own) and its own
token cache directory, so workers share nothing but the read-only collection mirror.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness import COLLECTIONS_PATH, Playbooks  # noqa: E402  pylint: disable=wrong-import-position
from atlas_emulator.contract import find_spec  # noqa: E402  pylint: disable=wrong-import-position
from atlas_emulator.control import EmulatorProcess  # noqa: E402  pylint: disable=wrong-import-position


TOKEN_CACHE_ENV = "ATLASOPS_BACKUP_TOKEN_CACHE"


@pytest.fixture(scope="session", autouse=True)
def private_token_cache(tmp_path_factory):
    """Service-account tokens of this session's module runs live in a directory of its own (tests that need
    another pass ATLASOPS_BACKUP_TOKEN_CACHE themselves): never the user's ~/.cache/atlasops.backup, nor a
    directory another xdist worker or another test run writes at the same time."""
    directory = tmp_path_factory.mktemp("token-cache")
    directory.chmod(0o700)  # the cache refuses a directory other users can open
    before = os.environ.get(TOKEN_CACHE_ENV)
    os.environ[TOKEN_CACHE_ENV] = str(directory)
    yield directory
    if before is None:
        os.environ.pop(TOKEN_CACHE_ENV, None)
    else:
        os.environ[TOKEN_CACHE_ENV] = before


@pytest.fixture(scope="session")
def emulator_process():
    spec = find_spec()
    # Atlas's rate and token limits, raised so far that they never slow the suite (the limits' own tests lower them).
    with EmulatorProcess(spec=spec if spec else False, job_seconds=2.0, relaxed_limits=True) as process:
        yield process


@pytest.fixture
def emulator(emulator_process):
    """The emulator, reset, failing the test on any contract violation it saw."""
    admin = emulator_process.admin
    admin.reset()
    admin.configure(job_seconds=2.0)
    yield admin
    violations = admin.violations()
    assert violations == [], f"the emulator saw contract violations: {json.dumps(violations, indent=1)[:4000]}"


@pytest.fixture(scope="session")
def spec_path():
    spec = find_spec()
    if spec is None:
        pytest.skip("official OpenAPI subset not found: set ATLAS_OPENAPI_SPEC or place ../shared/atlas-openapi beside the repo")
    return spec


@pytest.fixture(scope="session")
def collections():
    return COLLECTIONS_PATH


@pytest.fixture
def ansible(emulator_process, collections, tmp_path):
    return Playbooks(emulator_process.url, tmp_path, collections)
