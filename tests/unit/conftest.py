# Copyright: atlasops.backup contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fixtures shared by the unit tests."""

from __future__ import annotations

import pytest
from ansible.module_utils.common import warnings as ansible_warnings

# Every environment variable the modules read: a test starts with none of them.
ATLAS_ENV = ("MONGODB_ATLAS_CLIENT_ID", "MONGODB_ATLAS_CLIENT_SECRET", "MONGODB_ATLAS_PUBLIC_API_KEY", "MONGODB_ATLAS_PUBLIC_KEY",
             "MONGODB_ATLAS_PRIVATE_API_KEY", "MONGODB_ATLAS_PRIVATE_KEY", "MONGODB_ATLAS_BASE_URL")


@pytest.fixture
def no_atlas_env(monkeypatch):
    """No MONGODB_ATLAS_* variable and no module warning left over from an earlier test (they are process-global)."""
    for name in ATLAS_ENV:
        monkeypatch.delenv(name, raising=False)
    ansible_warnings._global_warnings.clear()
    return monkeypatch


@pytest.fixture(autouse=True)
def private_token_cache(tmp_path_factory, monkeypatch):
    """Module runs of the tests share tokens in a directory of the test session, never in the user's own cache."""
    directory = tmp_path_factory.mktemp("tokens")
    directory.chmod(0o700)
    monkeypatch.setenv("ATLASOPS_BACKUP_TOKEN_CACHE", str(directory))
    return directory
