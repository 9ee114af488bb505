# Copyright: atlasops.backup contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The collection under each choice the emulator offers where real Atlas's behaviour is unknown (README, "Unknowns"):
the order of lists, whether finished automated jobs turn `expired`, the fate of the serverless endpoints; and under
pages shorter than asked."""

from __future__ import annotations

import time

import pytest

from harness import PROJECT, task

ORDERS = ["oldest", "newest", "mixed"]


def seed(emulator, jobs=0, cluster_type="dedicated", **job_fields):
    emulator.add_cluster(PROJECT, "prod-db", cluster_type=cluster_type)
    emulator.add_cluster(PROJECT, "dr-db", cluster_type=cluster_type)
    snapshots = emulator.add_snapshots(PROJECT, "prod-db", count=5, every_hours=6)
    if jobs:
        emulator.add_restore_jobs(PROJECT, "prod-db", count=jobs, snapshot_id=snapshots[-1]["id"], target_cluster_name="dr-db",
                                  state="completed", **job_fields)
    return [s["id"] for s in snapshots]


@pytest.mark.parametrize("order", ORDERS)
def test_restore_job_info_sees_every_job_in_any_list_order_and_short_pages(ansible, emulator, order):
    seed(emulator, jobs=250)
    emulator.configure(list_order={"dedicated": order}, max_items_per_page=100)
    run = ansible.run([task("restore_job_info", "all", project_id=PROJECT, cluster_name="prod-db")])
    assert run.rc == 0, run.stdout[-3000:]
    ids = [job["id"] for job in run.ok("all")["restore_jobs"]]
    assert len(ids) == 250 and len(set(ids)) == 250


@pytest.mark.parametrize("order", ORDERS)
def test_snapshot_info_finds_the_newest_snapshot_in_any_list_order(ansible, emulator, order):
    snapshots = seed(emulator)
    emulator.configure(list_order={"snapshots": order})
    run = ansible.run([task("snapshot_info", "latest", project_id=PROJECT, cluster_name="prod-db")])
    assert run.rc == 0, run.stdout[-3000:]
    assert run.ok("latest")["snapshot"]["id"] == snapshots[-1]


@pytest.mark.parametrize("expire_after", [None, 0])
def test_a_finished_automated_restore_stays_completed_whatever_expired_says(ansible, emulator, expire_after):
    seed(emulator, jobs=1, created_at=time.time() - 3600)
    emulator.configure(expire_automated_after_seconds=expire_after)
    run = ansible.run([task("restore_job_info", "all", project_id=PROJECT, cluster_name="prod-db")])
    assert run.rc == 0, run.stdout[-3000:]
    assert [job["status"] for job in run.ok("all")["restore_jobs"]] == ["completed"]


@pytest.mark.parametrize("fate", ["served", "gone", "not_found"])
def test_snapshot_info_on_a_serverless_instance_under_each_fate_of_the_endpoints(ansible, emulator, fate):
    emulator.add_cluster(PROJECT, "sls-db", cluster_type="serverless")
    emulator.add_snapshots(PROJECT, "sls-db", count=2, every_hours=6)
    emulator.configure(serverless_endpoints=fate)
    run = ansible.run([task("snapshot_info", "latest", project_id=PROJECT, cluster_name="sls-db", cluster_type="serverless",
                            ignore_errors=True)])
    if fate == "served":
        assert run.ok("latest")["snapshot"]
    else:
        failure = run.failed("latest")
        assert ("410" if fate == "gone" else "404") in failure["msg"]
