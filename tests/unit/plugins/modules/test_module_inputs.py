# Copyright: atlasops.backup contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Credentials and bad input: decided before any request is sent."""

from __future__ import annotations

import json

import pytest

from ansible_collections.atlasops.backup.plugins.module_utils import _client
from ansible_collections.atlasops.backup.plugins.module_utils._errors import AtlasError
from ansible_collections.atlasops.backup.plugins.modules import restore_job, restore_job_info, snapshot_info
from ansible_collections.atlasops.backup.tests.unit.plugins.modules.module_runner import run_module

PROJECT = "5f1a2b3c4d5e6f7a8b9c0d1e"
SECRET = "s3cret-never-shown"


class Recorder:
    """Stands in for AtlasClient: records how it was built and answers every call with an error."""

    built = []

    def __init__(self, base_url, credentials, **kwargs):
        Recorder.built.append((base_url, credentials))

    def __getattr__(self, name):
        def refuse(*args, **kwargs):
            raise AtlasError("stopped by the test", status=418)
        return refuse


@pytest.fixture(autouse=True)
def clean(no_atlas_env, monkeypatch):
    Recorder.built = []
    monkeypatch.setattr("ansible_collections.atlasops.backup.plugins.module_utils._module.AtlasClient", Recorder)


def identity(**extra):
    return dict(project_id=PROJECT, cluster_name="prod-orders", **extra)


def test_no_credentials_names_every_option_and_variable(capsys):
    result = run_module(snapshot_info.main, identity(), capsys)
    assert result["failed"]
    for name in ("client_id", "client_secret", "public_key", "private_key", "MONGODB_ATLAS_CLIENT_ID", "MONGODB_ATLAS_CLIENT_SECRET",
                 "MONGODB_ATLAS_PUBLIC_API_KEY", "MONGODB_ATLAS_PUBLIC_KEY", "MONGODB_ATLAS_PRIVATE_API_KEY", "MONGODB_ATLAS_PRIVATE_KEY"):
        assert name in result["msg"]
    assert Recorder.built == []


@pytest.mark.parametrize("public, private", [("MONGODB_ATLAS_PUBLIC_API_KEY", "MONGODB_ATLAS_PRIVATE_API_KEY"),
                                             ("MONGODB_ATLAS_PUBLIC_KEY", "MONGODB_ATLAS_PRIVATE_KEY")])
def test_api_key_from_either_spelling_of_the_environment(monkeypatch, capsys, public, private):
    monkeypatch.setenv(public, "pub")
    monkeypatch.setenv(private, SECRET)
    run_module(snapshot_info.main, identity(), capsys)
    (dummy, credentials), = Recorder.built
    assert (credentials.public_key, credentials.private_key) == ("pub", SECRET)


def test_task_pair_beats_the_other_pair_in_the_environment(monkeypatch, capsys):
    monkeypatch.setenv("MONGODB_ATLAS_CLIENT_ID", "sa")
    monkeypatch.setenv("MONGODB_ATLAS_CLIENT_SECRET", SECRET)
    run_module(snapshot_info.main, identity(public_key="pub", private_key="priv"), capsys)
    (dummy, credentials), = Recorder.built
    assert type(credentials).__name__ == "ApiKey"


def test_both_pairs_in_the_environment_use_the_service_account_with_a_warning(monkeypatch, capsys):
    for name, value in (("MONGODB_ATLAS_CLIENT_ID", "sa"), ("MONGODB_ATLAS_CLIENT_SECRET", SECRET),
                        ("MONGODB_ATLAS_PUBLIC_KEY", "pub"), ("MONGODB_ATLAS_PRIVATE_KEY", "priv")):
        monkeypatch.setenv(name, value)
    result = run_module(snapshot_info.main, identity(), capsys)
    (dummy, credentials), = Recorder.built
    assert type(credentials).__name__ == "ServiceAccount"
    assert "using the service account" in warnings_text(result)
    assert SECRET not in str(result)


def test_both_pairs_in_the_task_are_refused(capsys):
    result = run_module(snapshot_info.main, identity(public_key="p", private_key="q", client_id="c", client_secret="d"), capsys)
    assert result["failed"] and "not both" in result["msg"] and Recorder.built == []


def test_half_a_pair_is_completed_from_the_environment_or_refused(monkeypatch, capsys):
    result = run_module(snapshot_info.main, identity(client_id="sa"), capsys)
    assert result["failed"] and "MONGODB_ATLAS_CLIENT_SECRET" in result["msg"]
    monkeypatch.setenv("MONGODB_ATLAS_CLIENT_SECRET", SECRET)
    run_module(snapshot_info.main, identity(client_id="sa"), capsys)
    (dummy, credentials), = Recorder.built
    assert credentials.client_secret == SECRET


def test_base_url_from_the_environment(monkeypatch, capsys):
    monkeypatch.setenv("MONGODB_ATLAS_BASE_URL", "https://cloud.mongodbgov.com")
    run_module(snapshot_info.main, identity(public_key="p", private_key="q"), capsys)
    assert Recorder.built[0][0] == "https://cloud.mongodbgov.com"


BAD_INPUTS = [
    (snapshot_info, dict(project_id="not-hex"), "project_id must be 24"),
    (snapshot_info, dict(cluster_name="../../admin"), "cluster_name must be"),
    (snapshot_info, dict(cluster_name="x" * 65), "cluster_name must be"),
    (snapshot_info, dict(cluster_name="ünïcode"), "cluster_name must be"),
    (snapshot_info, dict(sharded=True, cluster_type="flex"), "sharded applies to dedicated"),
    (snapshot_info, dict(snapshot_type="scheduled", cluster_type="legacy"), "have no type"),
    (snapshot_info, dict(before="2026-11-20 08:00"), "no timezone"),
    (snapshot_info, dict(request_timeout=-1), "request_timeout must not be negative"),
    (snapshot_info, dict(max_retries=-2), "max_retries must not be negative"),
    (restore_job_info, dict(wait=True), "wait needs job_id"),
    (restore_job_info, dict(job_id="123"), "job_id must be 24"),
    (restore_job_info, dict(job_id="a" * 24, wait=True, wait_timeout=-5), "wait_timeout must not be negative"),
    (restore_job, dict(snapshot_id="a" * 24), "needs target_cluster_name"),
    (restore_job, dict(delivery_type="point_in_time", target_cluster_name="dr", point_in_time="1763626500000"), "milliseconds"),
    (restore_job, dict(delivery_type="point_in_time", target_cluster_name="dr", point_in_time="2999-01-01T00:00:00Z"), "in the future"),
    (restore_job, dict(delivery_type="download", snapshot_id="a" * 24, target_cluster_name="dr"), "has no target"),
    (restore_job, dict(cluster_type="flex", delivery_type="download", snapshot_id="a" * 24), "only automated"),
    (restore_job, dict(snapshot_id="a" * 24, target_cluster_name="dr", base_url="ftp://x"), "base_url must be"),
]


@pytest.mark.parametrize("module, args, says", BAD_INPUTS)
def test_bad_input_fails_before_any_request(monkeypatch, capsys, module, args, says):
    def no_session(*args, **kwargs):
        raise AssertionError("a session was opened")

    monkeypatch.setattr("ansible_collections.atlasops.backup.plugins.module_utils._module.AtlasClient", _client.AtlasClient)
    monkeypatch.setattr(_client.requests, "Session", no_session)
    params = identity(public_key="pub", private_key=SECRET)
    params.update(args)
    result = run_module(module.main, params, capsys)
    assert result["failed"], result
    assert says in result["msg"]
    assert SECRET not in str(result)


def test_serverless_warns_and_points_to_flex(capsys):
    result = run_module(snapshot_info.main, identity(cluster_type="serverless"), capsys)
    assert "migrate the cluster to flex" in warnings_text(result)


def warnings_text(result: dict) -> str:
    # ansible-core 2.19 and later report warnings as structured summaries, older ones as strings.
    return json.dumps(result.get("warnings", []))
