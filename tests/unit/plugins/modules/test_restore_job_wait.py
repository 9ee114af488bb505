# Copyright: atlasops.backup contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""restore_job_wait's entries: every one checked before any request, a bad one named by its index."""

from __future__ import annotations

import pytest

from ansible_collections.atlasops.backup.plugins.modules import restore_job_wait
from ansible_collections.atlasops.backup.plugins.modules.restore_job_wait import job_refs
from ansible_collections.atlasops.backup.plugins.module_utils._validation import InvalidInputError
from ansible_collections.atlasops.backup.tests.unit.plugins.modules.module_runner import run_module

PROJECT = "5f1a2b3c4d5e6f7a8b9c0d1e"
JOB = "6741a2b3c4d5e6f7a8b9c0d1"
DEFAULTS = dict(project_id=PROJECT, cluster_name="orders", cluster_type="dedicated")


def test_entries_take_the_keys_they_leave_out_from_the_options():
    refs = job_refs([{"job_id": JOB}, {"restore_job_id": JOB, "group_id": "6a1a2b3c4d5e6f7a8b9c0d1e", "cluster_name": "cat",
                                       "cluster_type": "flex"}], DEFAULTS)
    assert [(ref.project_id, ref.cluster_name, ref.cluster_type, ref.job_id) for ref in refs] == [
        (PROJECT, "orders", "dedicated", JOB), ("6a1a2b3c4d5e6f7a8b9c0d1e", "cat", "flex", JOB)]


@pytest.mark.parametrize("entry, words", [
    ({"job_id": "nothex"}, ["jobs[1].job_id", "24"]),
    ({}, ["jobs[1] has no job_id"]),
    ({"job_id": JOB, "cluster_name": "a/b"}, ["jobs[1].cluster_name"]),
    ({"job_id": JOB, "cluster_type": "atlas"}, ["jobs[1].cluster_type"]),
    ({"job_id": JOB, "snapshot": 1}, ["jobs[1] has an unknown key", "'snapshot'"]),
    ({"job_id": JOB, "restore_job_id": "b" * 24}, ["jobs[1] gives job_id twice"]),
    ("6741a2b3c4d5e6f7a8b9c0d1", ["jobs[1] must be a dict"]),
    ({"job_id": 12}, ["jobs[1]: job_id must be a string"]),
    ({"job_id": JOB, "created_at": "yesterday"}, ["jobs[1].created_at", "not an ISO 8601"]),
    ({"job_id": JOB, "created_at": "2026-12-02T03:00:00"}, ["jobs[1].created_at", "no timezone"]),
    ({"job_id": JOB, "created_at": 1790000000}, ["jobs[1].created_at must be an ISO 8601"]),
    ({"job_id": JOB, "created_at": "1999-01-01T00:00:00Z"}, ["jobs[1].created_at", "before 2008"]),
])
def test_a_bad_entry_is_named_by_its_index(entry, words):
    with pytest.raises(InvalidInputError) as caught:
        job_refs([{"job_id": JOB}, entry], DEFAULTS)
    for word in words:
        assert word in str(caught.value)


def test_created_at_gives_the_job_its_age_and_does_not_tell_two_entries_apart():
    refs = job_refs([{"job_id": JOB, "created_at": "2026-12-02T03:00:00Z"}, {"job_id": JOB, "created_at": None},
                     {"job_id": JOB, "created_at": "2026-12-02T04:00:00.5+01:00"}, {"job_id": JOB}], DEFAULTS)
    assert [ref.created_at for ref in refs] == [1796180400.0, None, 1796180400.5, None]
    assert len(set(refs)) == 1, "one job named with and without created_at is still one job"


def test_a_created_at_ahead_of_our_clock_is_not_refused():
    (ref,) = job_refs([{"job_id": JOB, "created_at": "2999-01-01T00:00:00Z"}], DEFAULTS)
    assert ref.created_at == 32472144000.0


def test_an_entry_without_a_project_anywhere_says_where_to_give_it():
    with pytest.raises(InvalidInputError) as caught:
        job_refs([{"job_id": JOB, "cluster_name": "x"}], dict(DEFAULTS, project_id=None))
    assert "jobs[0] has no project_id" in str(caught.value) and "module option project_id" in str(caught.value)


def test_the_module_refuses_a_bad_entry_before_building_a_client(monkeypatch, capsys, no_atlas_env):
    built = []
    monkeypatch.setattr("ansible_collections.atlasops.backup.plugins.module_utils._module.AtlasClient",
                        lambda *args, **kwargs: built.append(1))
    monkeypatch.setenv("MONGODB_ATLAS_CLIENT_ID", "sa")
    monkeypatch.setenv("MONGODB_ATLAS_CLIENT_SECRET", "s3cret-value")
    result = run_module(restore_job_wait.main, dict(project_id=PROJECT, cluster_name="orders",
                                                    jobs=[{"job_id": JOB}, {"job_id": JOB, "cluster_name": "-bad"}]), capsys)
    assert result["failed"] and "jobs[1].cluster_name" in result["msg"]
    assert built == []
    assert result["restore_jobs"] == [] and result["summary"]["total"] == 0


def test_max_requests_per_minute_must_be_positive(capsys, no_atlas_env):
    result = run_module(restore_job_wait.main, dict(jobs=[], max_requests_per_minute=0, public_key="p", private_key="k"), capsys)
    assert result["failed"] and "max_requests_per_minute" in result["msg"]
