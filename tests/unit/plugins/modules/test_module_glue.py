# Copyright: atlasops.backup contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the module glue adds to the client: masked tokens, warnings about certificates, credential messages."""

from __future__ import annotations

import json

import pytest

from ansible_collections.atlasops.backup.plugins.module_utils import _module
from ansible_collections.atlasops.backup.plugins.module_utils._client import AtlasClient
from ansible_collections.atlasops.backup.plugins.modules import snapshot_info
from ansible_collections.atlasops.backup.tests.unit.plugins.module_utils.fake_atlas import Scripted, mount
from ansible_collections.atlasops.backup.tests.unit.plugins.modules.module_runner import run_module

PROJECT = "5f1a2b3c4d5e6f7a8b9c0d1e"
TOKEN = "eyJhbGciOi-bearer-token-value"
SECRET = "client-secret-never-shown"


@pytest.fixture
def scripted(no_atlas_env):
    """Modules on a real AtlasClient whose transport answers from script["handler"]."""
    script = {}

    def build(base_url, credentials, **kwargs):
        built = AtlasClient(base_url, credentials, sleep=lambda seconds: None, **kwargs)
        mount(built, Scripted(handler=script["handler"]))
        return built

    no_atlas_env.setattr(_module, "AtlasClient", build)
    no_atlas_env.setenv("MONGODB_ATLAS_BASE_URL", "https://atlas.example.test")
    return script


def token_or(answer):
    return lambda sent: (200, {"access_token": TOKEN, "expires_in": 3600}) if "oauth" in sent["path"] else answer


def test_a_bearer_token_that_an_answer_echoes_is_masked_in_the_result(scripted, capsys):
    snapshot = {"id": "a" * 24, "status": "completed", "createdAt": "2026-11-20T06:00:00Z", "description": f"echo {TOKEN}"}
    scripted["handler"] = token_or((200, {"results": [snapshot], "totalCount": 1}))
    result = run_module(snapshot_info.main, dict(project_id=PROJECT, cluster_name="prod", client_id="sa", client_secret=SECRET), capsys)
    assert result["snapshot"]["id"] == "a" * 24
    assert TOKEN not in json.dumps(result) and SECRET not in json.dumps(result)


def test_validate_certs_false_is_said_in_a_warning(scripted, capsys):
    scripted["handler"] = token_or((200, {"results": [], "totalCount": 0}))
    result = run_module(snapshot_info.main, dict(project_id=PROJECT, cluster_name="prod", client_id="sa", client_secret=SECRET,
                                                 validate_certs=False), capsys)
    assert "not checked" in json.dumps(result.get("warnings", []))


@pytest.mark.parametrize("present, missing", [
    ("MONGODB_ATLAS_CLIENT_ID", "MONGODB_ATLAS_CLIENT_SECRET"),
    ("MONGODB_ATLAS_PRIVATE_KEY", "MONGODB_ATLAS_PUBLIC_API_KEY or MONGODB_ATLAS_PUBLIC_KEY"),
])
def test_half_a_pair_in_the_environment_names_the_missing_half(scripted, no_atlas_env, capsys, present, missing):
    scripted["handler"] = lambda sent: pytest.fail("no request may be sent")
    no_atlas_env.setenv(present, SECRET)
    result = run_module(snapshot_info.main, dict(project_id=PROJECT, cluster_name="prod"), capsys)
    assert result["failed"] and missing in result["msg"] and "is not" in result["msg"]
    assert SECRET not in json.dumps(result)
