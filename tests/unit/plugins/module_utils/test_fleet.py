# Copyright: atlasops.backup contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fleet wait: each job on its schedule, each project within its budget, a 429 slowing only its project."""

from __future__ import annotations

import time
import tracemalloc

import pytest

from ansible_collections.atlasops.backup.plugins.module_utils._client import _NoRetries
from ansible_collections.atlasops.backup.plugins.module_utils._errors import AtlasError
from ansible_collections.atlasops.backup.plugins.module_utils._fleet import FleetWait, JobRef
from ansible_collections.atlasops.backup.plugins.module_utils._fleet_lanes import RequestBudget

WALL0 = 1_790_000_000  # the fake wall clock at clock() == 0
PROJECT_A = "5f1a2b3c4d5e6f7a8b9c0d1e"
PROJECT_B = "6a1a2b3c4d5e6f7a8b9c0d1e"


def object_id(seconds: float, serial: int) -> str:
    return f"{int(WALL0 + seconds):08x}{serial:016x}"


def iso_at(seconds: float) -> str:
    """The fake wall clock at clock() == seconds, to the second, as Atlas writes its times."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(int(WALL0 + seconds)))


class FakeAtlas:
    """Stands in for AtlasClient: jobs that end at given times, on a fake clock that sleep advances."""

    max_retries = 5

    def __init__(self):
        self.now = 0.0
        self.jobs = {}  # job id -> dict(end, outcome, type, target)
        self.clusters = {}  # (project, name) -> time at which it becomes IDLE, or an AtlasError
        self.calls = []  # (time, project, operation, job id or cluster)
        self.limited = {}  # project -> Retry-After answered with a 429 while now < until
        self.errors = {}  # job id -> list of AtlasErrors to raise, in order
        self.sleeps = []

    # the client's surface
    def clock(self):
        return self.now

    def sleep(self, seconds):
        assert seconds > 0
        self.sleeps.append(seconds)
        self.now += seconds

    def without_retries(self):
        return _NoRetries(self)  # the client's own wrapper

    def call(self, target, params, deadline=None, max_retries=None, **kwargs):
        assert max_retries == 0, "fleet polls must not retry inside the client"
        assert deadline is not None and self.now <= deadline, "a request started after the deadline"
        project = params["project_id"]
        self.calls.append((self.now, project, target.operation_id, params.get("job_id") or params["cluster_name"]))
        if project in self.limited and self.now < self.limited[project][0]:
            raise AtlasError("429", status=429, transient=True, retry_after=self.limited[project][1])
        if "job_id" not in params:
            ready = self.clusters[(project, params["cluster_name"])]
            if isinstance(ready, AtlasError):
                raise ready
            return {"name": params["cluster_name"], "stateName": "IDLE" if self.now >= ready else "UPDATING", "paused": False}
        if self.errors.get(params["job_id"]):
            raise self.errors[params["job_id"]].pop(0)
        job = self.jobs[params["job_id"]]
        if job["type"] == "legacy":
            return self._legacy(params["job_id"])
        raw = {"id": params["job_id"], "deliveryType": "automated", "targetClusterName": job["target"], "targetGroupId": project}
        if job["type"] == "flex":
            raw = {"id": params["job_id"], "deliveryType": "RESTORE", "targetDeploymentItemName": job["target"],
                   "targetProjectId": project, "status": "RUNNING"}
            if self.now >= job["end"]:
                raw["status"] = "COMPLETED" if job["outcome"] == "completed" else "FAILED"
                raw["restoreFinishedDate"] = iso_at(job["end"])
            return raw
        if self.now >= job["end"]:
            if job["outcome"] == "completed":
                raw["finishedAt"] = iso_at(job["end"])
            else:
                raw[job["outcome"]] = True
        return raw

    def items(self, target, params, deadline=None, **kwargs):
        assert target.operation_id.startswith("list"), target.operation_id
        self.calls.append((self.now, params["project_id"], target.operation_id, params["cluster_name"]))
        for job_id, job in self.jobs.items():
            if job["type"] == "legacy" and job["cluster"] == params["cluster_name"]:
                yield self._legacy(job_id)

    def _legacy(self, job_id):
        job = self.jobs[job_id]
        status = "IN_PROGRESS" if self.now < job["end"] else {"completed": "FINISHED", "failed": "BROKEN"}[job["outcome"]]
        return {"id": job_id, "batchId": job["batch"], "statusName": status, "clusterName": job["cluster"],
                "delivery": {"methodName": "AUTOMATED_RESTORE", "targetClusterName": job["target"]}}

    # test set-up
    def add_job(self, end, outcome="completed", cluster_type="dedicated", target="dr", created=0.0, cluster="src", batch=None):
        job_id = object_id(created, len(self.jobs) + 1)
        self.jobs[job_id] = dict(end=end, outcome=outcome, type=cluster_type, target=target, cluster=cluster, batch=batch or job_id)
        return job_id

    def polls_of(self, job_id):
        return [when for when, dummy, operation, name in self.calls if name == job_id]


def ref(job_id, project=PROJECT_A, cluster="src", cluster_type="dedicated"):
    return JobRef(project, cluster, cluster_type, job_id)


def wait(atlas, refs, timeout=3600, **kwargs):
    return FleetWait(atlas, refs, timeout=timeout, wall=lambda: WALL0 + atlas.now, **kwargs).run()


def test_each_job_is_polled_on_its_own_age_schedule_and_noticed_soon_after_it_ends():
    atlas = FakeAtlas()
    short, long = atlas.add_job(end=30), atlas.add_job(end=600)
    outcome = wait(atlas, [ref(short, cluster="a"), ref(long, cluster="b")])
    assert [entry["status"] for entry in outcome.restore_jobs] == ["completed", "completed"]
    short_polls, long_polls = atlas.polls_of(short), atlas.polls_of(long)
    assert short_polls[-1] <= 30 + 3.1 and short_polls[-2] < 30  # noticed within one interval (a tenth of its age)
    assert long_polls[-1] <= 600 * 1.1 + 0.1
    gaps = [later - earlier for earlier, later in zip(long_polls, long_polls[1:])]
    assert all(gap >= 2.0 - 1e-9 for gap in gaps) and max(gaps) <= 60.0 + 1e-9
    assert gaps[-1] > gaps[0] * 10, "the interval did not grow with the job's age"
    assert outcome.waited_seconds == pytest.approx(long_polls[-1], abs=0.01)


def test_a_job_already_old_when_the_wait_begins_starts_at_its_slow_pace():
    atlas = FakeAtlas()
    atlas.now = 7200.0
    job = atlas.add_job(end=7400, created=0.0)
    wait(atlas, [ref(job)])
    polls = atlas.polls_of(job)
    assert polls[1] - polls[0] == pytest.approx(60.0)


def test_results_in_input_order_with_a_summary_each_entry_its_own():
    atlas = FakeAtlas()
    done = atlas.add_job(end=10)
    failed = atlas.add_job(end=20, outcome="failed")
    cancelled = atlas.add_job(end=5, outcome="cancelled")
    flex = atlas.add_job(end=15, cluster_type="flex")
    missing = object_id(0, 99)
    atlas.errors[missing] = [AtlasError("Atlas answered getGroupClusterBackupRestoreJob with HTTP 404 RESOURCE_NOT_FOUND", status=404)]
    slow = atlas.add_job(end=10_000)
    refs = [ref(failed, cluster="f"), ref(done, cluster="d"), ref(missing, cluster="m"), ref(flex, PROJECT_B, "x", "flex"),
            ref(slow, cluster="s"), ref(cancelled, cluster="c")]
    outcome = wait(atlas, refs, timeout=300)
    assert [entry["id"] for entry in outcome.restore_jobs] == [failed, done, missing, flex, slow, cancelled]
    assert [entry["status"] for entry in outcome.restore_jobs] == ["failed", "completed", None, "completed", "in_progress",
                                                                   "cancelled"]
    assert [entry["cluster_name"] for entry in outcome.restore_jobs] == ["f", "d", "m", "x", "s", "c"]
    assert outcome.restore_jobs[3]["project_id"] == PROJECT_B and outcome.restore_jobs[3]["cluster_type"] == "flex"
    assert [bool(entry["error"]) for entry in outcome.restore_jobs] == [False, False, True, False, False, False]
    assert "404" in outcome.restore_jobs[2]["error"]
    assert outcome.summary == dict(total=6, completed=2, failed=1, cancelled=1, expired=0, timed_out=1, unreadable=1)
    assert len(atlas.polls_of(missing)) == 1, "an error that will not pass was polled again"
    message = outcome.failure()
    assert message.startswith("4 of 6 restore jobs did not complete")
    assert f"f job {failed} ended failed" in message and "timed" not in message.split(";")[0]
    assert outcome.waited_seconds <= 300


def test_the_wait_ends_at_its_timeout_and_no_request_starts_after_it():
    atlas = FakeAtlas()
    jobs = [atlas.add_job(end=10_000) for dummy in range(5)]
    outcome = wait(atlas, [ref(job, cluster=f"c{index}") for index, job in enumerate(jobs)], timeout=120)
    assert outcome.summary["timed_out"] == 5
    last_polls = [max(atlas.polls_of(job)) for job in jobs]
    assert last_polls == [pytest.approx(120 - 2.0)] * 5, "each job gets its last poll just before the deadline, none after"
    assert outcome.waited_seconds == pytest.approx(120), "a wait that times out lasts its whole time"
    assert "at the end of wait_timeout" in outcome.failure()


def windows_within(times, limit, seconds=60.0):
    times = sorted(times)
    start = 0
    for end, moment in enumerate(times):
        while moment - times[start] >= seconds:
            start += 1
        if end - start + 1 > limit:
            return False
    return True


def test_the_polls_of_a_project_stay_within_its_budget_and_projects_do_not_share_one():
    atlas = FakeAtlas()
    refs = []
    for index in range(150):
        refs.append(ref(atlas.add_job(end=900), PROJECT_A, f"a{index}"))
        refs.append(ref(atlas.add_job(end=900), PROJECT_B, f"b{index}"))
    outcome = wait(atlas, refs, per_minute=100)
    assert outcome.summary["completed"] == 300
    for project in (PROJECT_A, PROJECT_B):
        times = [when for when, owner, *dummy in atlas.calls if owner == project]
        assert windows_within(times, 100), f"{project} went over 100 requests in a minute"
        assert len([when for when in times if when < 60]) >= 95, "the budget was not used"
    assert atlas.now < 900 + 150 * 60 / 90 + 10, "the last job was noticed too late for its budget"


def test_a_budget_never_lets_a_minute_pass_its_limit():
    for per_minute in (1, 2, 7, 100, 500):
        budget = RequestBudget(per_minute, 0.0)
        now, sent = 0.0, []
        while now < 600:
            at = budget.ready_at(now)
            now = at
            budget.take(now)
            sent.append(now)
        assert windows_within(sent, per_minute), per_minute
        assert len(sent) >= per_minute * 9, per_minute


def test_a_429_storm_on_one_project_slows_that_project_only():
    atlas = FakeAtlas()
    atlas.limited[PROJECT_A] = (200.0, 10.0)  # every call of project A answered 429 for 200 s
    slowed = [atlas.add_job(end=30) for dummy in range(5)]
    on_time = [atlas.add_job(end=30) for dummy in range(5)]
    refs = [ref(job, PROJECT_A, f"a{index}") for index, job in enumerate(slowed)]
    refs += [ref(job, PROJECT_B, f"b{index}") for index, job in enumerate(on_time)]
    outcome = wait(atlas, refs)
    assert outcome.summary["completed"] == 10
    for job in on_time:
        assert max(atlas.polls_of(job)) <= 30 + 3.1, "project B waited for project A's rate limit"
    storm = [when for when, owner, *dummy in atlas.calls if owner == PROJECT_A and when < 200]
    assert len(storm) <= 25, f"{len(storm)} requests into a rate-limited project"
    assert all(later - earlier >= 10.0 - 1e-9 for earlier, later in zip(storm, storm[1:])), "Retry-After was not honoured"
    assert outcome.rate_limited[(PROJECT_A, "Cloud Backups")] == len(storm)
    assert outcome.rate_limited[(PROJECT_B, "Cloud Backups")] == 0
    assert max(when for when, owner, *dummy in atlas.calls if owner == PROJECT_A) <= 200 + 20


def test_a_failing_poll_of_one_job_does_not_hold_the_others():
    atlas = FakeAtlas()
    flaky, steady = atlas.add_job(end=20), atlas.add_job(end=20)
    atlas.errors[flaky] = [AtlasError("503", status=503, transient=True) for dummy in range(8)]
    outcome = wait(atlas, [ref(flaky, cluster="x"), ref(steady, cluster="y")])
    assert outcome.summary["completed"] == 2
    assert max(atlas.polls_of(steady)) <= 20 + 3.1
    assert len(atlas.polls_of(flaky)) >= 9
    assert all(seconds < 3 for seconds in atlas.sleeps[:5])


def test_check_mode_reads_each_job_once_and_does_not_fail_running_ones():
    atlas = FakeAtlas()
    running, failed, done = atlas.add_job(end=500), atlas.add_job(end=0, outcome="failed"), atlas.add_job(end=0)
    outcome = wait(atlas, [ref(running, cluster="r"), ref(failed, cluster="f"), ref(done, cluster="d")], check_mode=True)
    assert [len(atlas.polls_of(job)) for job in (running, failed, done)] == [1, 1, 1]
    assert atlas.sleeps == []
    assert [entry["status"] for entry in outcome.restore_jobs] == ["in_progress", "failed", "completed"]
    assert outcome.failure(check_mode=True).startswith("1 of 3")
    assert "r job" not in outcome.failure(check_mode=True)


def test_a_job_named_twice_is_polled_once_and_reported_twice():
    atlas = FakeAtlas()
    job = atlas.add_job(end=10)
    outcome = wait(atlas, [ref(job), ref(job)])
    assert [entry["id"] for entry in outcome.restore_jobs] == [job, job]
    assert len(atlas.polls_of(job)) == len(set(atlas.polls_of(job)))
    assert outcome.summary["total"] == 2 and outcome.summary["completed"] == 2


def test_wait_for_target_waits_for_idle_and_says_when():
    atlas = FakeAtlas()
    job = atlas.add_job(end=20, target="dr")
    atlas.clusters[(PROJECT_A, "dr")] = 50.0
    other = atlas.add_job(end=20, target="dr2")
    atlas.clusters[(PROJECT_A, "dr2")] = AtlasError("403", status=403)
    outcome = wait(atlas, [ref(job), ref(other, cluster="o")], wait_for_target=True)
    first, second = outcome.restore_jobs
    assert first["target_ready_at"] is not None and second["target_ready_at"] is None
    ready_seen = [when for when, dummy, operation, name in atlas.calls if name == "dr"]
    assert ready_seen[-1] >= 50 and ready_seen[-1] <= 50 + 4
    assert outcome.failure() is None and any("dr2" in warning for warning in outcome.warnings)
    assert outcome.summary["target_not_ready"] == 0


def test_a_target_not_ready_at_the_deadline_fails_its_entry():
    atlas = FakeAtlas()
    job = atlas.add_job(end=10)
    atlas.clusters[(PROJECT_A, "dr")] = 10_000.0
    outcome = wait(atlas, [ref(job)], timeout=100, wait_for_target=True)
    (entry,) = outcome.restore_jobs
    assert entry["status"] == "completed" and entry["target_ready_at"] is None and "not ready" in entry["error"]
    assert outcome.summary["target_not_ready"] == 1 and outcome.summary["completed"] == 1
    assert "completed, but" in outcome.failure()


def test_memory_for_a_thousand_jobs():
    atlas = FakeAtlas()
    refs = [ref(atlas.add_job(end=5 + index % 50), PROJECT_A if index % 2 else PROJECT_B, f"c{index}") for index in range(1000)]
    tracemalloc.start()
    try:
        outcome = wait(atlas, refs, per_minute=100_000)
        dummy, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert outcome.summary["completed"] == 1000
    print(f"fleet wait of 1000 jobs: peak {peak / 1e6:.2f} MB traced ({peak / 1000:.0f} bytes a job), {len(atlas.calls)} polls")
    # the fake's own call log is in the figure too: about 100 bytes a poll
    assert peak < 8_000_000


def test_a_legacy_batch_is_waited_for_whole_with_the_worst_status_of_its_members():
    atlas = FakeAtlas()
    first = atlas.add_job(end=10, cluster_type="legacy", cluster="sharded")
    shard = atlas.add_job(end=40, cluster_type="legacy", cluster="sharded", batch=first)
    config = atlas.add_job(end=20, outcome="failed", cluster_type="legacy", cluster="sharded", batch=first)
    alone = atlas.add_job(end=10, cluster_type="legacy", cluster="other")
    outcome = wait(atlas, [ref(first, cluster="sharded", cluster_type="legacy"), ref(alone, cluster="other", cluster_type="legacy")])
    batch, single = outcome.restore_jobs
    assert batch["id"] == first and batch["status"] == "failed"
    assert sorted(job["id"] for job in batch["batch_jobs"]) == sorted([first, shard, config])
    assert max(atlas.polls_of(shard)) >= 40, "a member of the batch was not waited for"
    assert single["status"] == "completed" and "batch_jobs" not in single
    assert outcome.summary == dict(total=2, completed=1, failed=1, cancelled=0, expired=0, timed_out=0, unreadable=0)
    assert "sharded job" in outcome.failure() and "ended failed" in outcome.failure()
