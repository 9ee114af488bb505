"""In-memory state: projects, clusters, snapshots and restore jobs with lazily computed lifecycles."""

from __future__ import annotations

import re
import threading
import time

from .util import HEX24, CLUSTER_NAME, IDS, new_id, parse_time

CLUSTER_TYPES = ("dedicated", "serverless", "flex", "legacy")
DEFAULT_ORG = "5f0000000000000000000001"
OUTCOMES = ("completed", "failed", "expired", "cancelled")
JOB_STATES = ("running",) + OUTCOMES
SNAPSHOT_STATUSES = ("completed", "in_progress", "queued", "failed")
SNAPSHOT_TYPES = ("scheduled", "on_demand", "fallback")

_STATUS_ALIASES = {
    "inprogress": "in_progress", "in_progress": "in_progress", "running": "in_progress",
    "completed": "completed", "complete": "completed", "queued": "queued", "pending": "queued",
    "failed": "failed",
}
_TYPE_ALIASES = {"scheduled": "scheduled", "on_demand": "on_demand", "ondemand": "on_demand", "fallback": "fallback"}
_STATE_ALIASES = {"in_progress": "running", "running": "running", "completed": "completed", "failed": "failed",
                  "cancelled": "cancelled", "canceled": "cancelled", "expired": "expired"}


class StateError(ValueError):
    """A bad admin request (answered 400, or 404 when ``not_found``)."""

    def __init__(self, message, not_found=False):
        super().__init__(message)
        self.not_found = not_found


class Snapshot:
    __slots__ = ("id", "created", "_status", "snapshot_type", "frequency_type", "description", "size",
                 "mongod_version", "expires", "member_ids", "duration", "ready_at", "policy_item")

    def __init__(self, created, status="completed", snapshot_type="scheduled", frequency_type=None, description=None,
                 size=None, mongod_version="7.0.14", expires=None, snapshot_id=None, members=0, ready_at=None):
        self.id = snapshot_id or new_id(created)
        self.created = created
        self._status = status
        self.ready_at = ready_at  # an on-demand snapshot taken through the API: queued, inProgress, then status
        self.snapshot_type = snapshot_type
        if frequency_type is None:
            frequency_type = "ondemand" if snapshot_type == "on_demand" else "hourly"
        self.policy_item = new_id(created)
        self.frequency_type = frequency_type
        self.description = description
        self.size = size if size is not None else 1073741824 + (int(created) % 997) * 1048576
        self.mongod_version = mongod_version
        self.expires = expires if expires is not None else created + 7 * 86400
        self.member_ids = [new_id(created) for dummy in range(members)]
        self.duration = 300.0

    @property
    def status(self):
        now = time.time()
        if self.ready_at is not None and now < self.ready_at:
            return "queued" if now < self.created + (self.ready_at - self.created) / 5.0 else "in_progress"
        return self._status

    @property
    def finished(self):
        if self.ready_at is not None:
            return self.ready_at if self.status in ("completed", "failed") else None
        return self.created + self.duration if self.status in ("completed", "failed") else None


class Job:
    """One restore job; its state is computed from the clock when read."""

    __slots__ = ("id", "cluster_type", "project_id", "cluster_name", "cluster_id", "sharded", "created", "duration", "outcome",
                 "forced", "forced_at", "delivery_type", "snapshot_id", "snapshot_time", "snapshot_finished",
                 "target_cluster_name", "target_project_id", "pit_seconds", "oplog_ts", "oplog_inc", "pit_millis",
                 "oplog_ts_text", "method_name", "batch_id", "expiration_hours", "max_downloads", "shard_name",
                 "writes_target")

    def __init__(self, cluster_type, cluster, delivery_type, created=None, duration=3.0, outcome="completed", job_id=None):
        self.id = job_id or new_id(created)
        self.cluster_type = cluster_type
        self.project_id = cluster.project_id
        self.cluster_name = cluster.name
        self.cluster_id = cluster.id
        self.sharded = cluster.sharded
        self.created = time.time() if created is None else created
        self.duration = duration
        self.outcome = outcome
        self.forced = None
        self.forced_at = None
        self.delivery_type = delivery_type  # automated | download | pointInTime
        self.snapshot_id = None
        self.snapshot_time = None
        self.snapshot_finished = None
        self.target_cluster_name = None
        self.target_project_id = None
        self.pit_seconds = None
        self.oplog_ts = None
        self.oplog_inc = None
        self.pit_millis = None
        self.oplog_ts_text = None
        self.method_name = None
        self.batch_id = None
        self.expiration_hours = None
        self.max_downloads = None
        self.shard_name = None
        self.writes_target = delivery_type != "download"

    def phase(self, now=None):
        """(state, finished_at, fraction_elapsed); state is running or one of OUTCOMES."""
        if now is None:
            now = time.time()
        if self.forced is not None:
            if self.forced == "running":
                return "running", None, 0.5
            return self.forced, self.forced_at, 1.0
        end = self.created + self.duration
        if now < end:
            fraction = (now - self.created) / self.duration if self.duration > 0 else 1.0
            return "running", None, max(0.0, fraction)
        return self.outcome, end, 1.0

    def is_terminal(self, now=None):
        return self.phase(now)[0] != "running"

    def force(self, state, now=None):
        self.forced = state
        self.forced_at = time.time() if now is None else now


# Seedable cluster attributes (admin key -> default); see README "Clusters".
CLUSTER_ATTRIBUTES = {
    "mongodb_version": "7.0.14", "fcv": None, "shards": None, "config_server_type": "EMBEDDED",
    "database_edition": "CORE", "encryption_provider": "NONE", "encryption_key_valid": True, "backup_enabled": True,
    "pit_enabled": False, "paused": False, "state": "IDLE", "restore_window_days": 7, "provider": "AWS",
    "region": "US_EAST_1",
}
_CHOICES = {"config_server_type": ("EMBEDDED", "DEDICATED"), "database_edition": ("CORE", "INFINITE"),
            "encryption_provider": ("NONE", "AWS", "AZURE", "GCP"), "provider": ("AWS", "AZURE", "GCP"),
            "state": ("IDLE", "CREATING", "UPDATING", "DELETING", "REPAIRING")}


class Cluster:
    __slots__ = ("id", "project_id", "name", "type", "sharded", "job_seconds", "job_outcome", "snapshots",
                 "snapshot_by_id", "jobs", "shard_names", "created", "incoming") + tuple(CLUSTER_ATTRIBUTES)

    def __init__(self, project_id, name, cluster_type, sharded=False, job_seconds=None, job_outcome=None):
        self.id = new_id()
        self.project_id = project_id
        self.name = name
        self.type = cluster_type
        self.sharded = bool(sharded)
        self.job_seconds = job_seconds
        self.job_outcome = job_outcome
        self.snapshots = []  # sorted by creation time
        self.snapshot_by_id = {}
        self.jobs = []  # creation order
        self.incoming = []  # restore jobs that write into this cluster
        self.created = time.time()
        for key, value in CLUSTER_ATTRIBUTES.items():
            setattr(self, key, value)
        self.set_attributes({"shards": 2 if self.sharded else 1})

    def set_attributes(self, attributes):
        for key, value in attributes.items():
            if key not in CLUSTER_ATTRIBUTES:
                raise StateError("unknown cluster attribute %s (known: %s)" % (key, ", ".join(CLUSTER_ATTRIBUTES)))
            if key in _CHOICES and value not in _CHOICES[key]:
                raise StateError("%s must be one of %s" % (key, ", ".join(_CHOICES[key])))
            if key == "mongodb_version" and not re.match(r"^\d+\.\d+\.\d+$", str(value)):
                raise StateError("mongodb_version must look like 7.0.14")
            if key == "shards" and (not isinstance(value, int) or value < 1 or (value > 1 and not self.sharded)):
                raise StateError("shards must be 1 for a replica set, >= 1 for a sharded cluster")
            setattr(self, key, value)
        self.shard_names = ["atlas-%s-shard-%d" % (self.name[:20], i) for i in range(self.shards)]
        if self.sharded:
            self.shard_names.append("atlas-%s-config-0" % self.name[:20])

    @property
    def mongod_version(self):
        return self.mongodb_version

    def state_name(self, now, idle_after):
        """IDLE, or UPDATING while a restore runs into the cluster and for ``idle_after`` seconds after it ends."""
        if self.state != "IDLE":
            return self.state
        for job in reversed(self.incoming):
            _state, finished, _fraction = job.phase(now)
            if finished is None or now < finished + idle_after:
                return "UPDATING"
        return "IDLE"

    def as_dict(self):
        out = {"id": self.id, "project_id": self.project_id, "name": self.name, "type": self.type, "sharded": self.sharded,
               "job_seconds": self.job_seconds, "job_outcome": self.job_outcome, "snapshots": len(self.snapshots),
               "restore_jobs": len(self.jobs)}
        out.update({key: getattr(self, key) for key in CLUSTER_ATTRIBUTES})
        return out

    def add_snapshot(self, snapshot):
        self.snapshot_by_id[snapshot.id] = snapshot
        self.snapshots.append(snapshot)
        if len(self.snapshots) > 1 and self.snapshots[-2].created > snapshot.created:
            self.snapshots.sort(key=lambda s: (s.created, s.id))


class Project:
    __slots__ = ("id", "clusters", "org_id")

    def __init__(self, project_id, org_id=None):
        self.id = project_id
        self.clusters = {}
        self.org_id = org_id or DEFAULT_ORG


class State:
    """All emulated data; guarded by ``lock``."""

    def __init__(self):
        self.lock = threading.RLock()
        self.projects = {}
        self.jobs = {}
        self._active_by_target = {}

    def reset(self):
        with self.lock:
            self.projects = {}
            self.jobs = {}
            self._active_by_target = {}

    # -- projects and clusters -------------------------------------------------------------------

    def add_project(self, project_id=None, org_id=None):
        """The project (created when new); ``org_id`` puts it in another organization than the default one."""
        with self.lock:
            if project_id is None:
                project_id = new_id()
            if not isinstance(project_id, str) or not HEX24.match(project_id):
                raise StateError("project id must be 24 lower-case hex digits: %r" % (project_id,))
            project = self.projects.get(project_id)
            if project is None:
                project = Project(project_id, org_id)
                self.projects[project_id] = project
            elif org_id is not None:
                project.org_id = org_id
            return project

    def add_cluster(self, project_id, name, cluster_type="dedicated", sharded=False, job_seconds=None, job_outcome=None,
                    attributes=None):
        if cluster_type not in CLUSTER_TYPES:
            raise StateError("type must be one of %s" % ", ".join(CLUSTER_TYPES))
        if not isinstance(name, str) or not CLUSTER_NAME.match(name):
            raise StateError("invalid cluster name %r" % (name,))
        if job_outcome is not None and job_outcome not in OUTCOMES:
            raise StateError("job_outcome must be one of %s" % ", ".join(OUTCOMES))
        if job_seconds is not None:
            job_seconds = float(job_seconds)
            if job_seconds < 0:
                raise StateError("job_seconds must be >= 0")
        if sharded and cluster_type in ("flex", "serverless"):
            raise StateError("%s clusters cannot be sharded" % cluster_type)
        with self.lock:
            project = self.add_project(project_id)
            cluster = project.clusters.get(name)
            if cluster is not None:
                if cluster.type != cluster_type:
                    raise StateError("cluster %s already exists with type %s" % (name, cluster.type))
                cluster.job_seconds = job_seconds
                cluster.job_outcome = job_outcome
                cluster.set_attributes(attributes or {})
                return cluster
            cluster = Cluster(project.id, name, cluster_type, sharded, job_seconds, job_outcome)
            cluster.set_attributes(attributes or {})
            project.clusters[name] = cluster
            return cluster

    def cluster(self, project_id, name):
        project = self.projects.get(project_id)
        if project is None:
            raise StateError("no project %s" % project_id, not_found=True)
        cluster = project.clusters.get(name)
        if cluster is None:
            raise StateError("no cluster %s in project %s" % (name, project_id), not_found=True)
        return cluster

    def find_cluster(self, project_id, name):
        project = self.projects.get(project_id)
        return project.clusters.get(name) if project is not None else None

    # -- snapshots -------------------------------------------------------------------------------

    def add_snapshots(self, project_id, cluster_name, specs=None, count=None, every_hours=None, newest=None):
        with self.lock:
            cluster = self.cluster(project_id, cluster_name)
            created = []
            members = len(cluster.shard_names) if cluster.sharded else 0
            if count is not None:
                count = int(count)
                step = float(every_hours if every_hours is not None else 24.0) * 3600.0
                last = parse_time(newest) if newest is not None else time.time() - 600.0
                for index in range(count):
                    when = last - (count - 1 - index) * step
                    created.append(Snapshot(when, members=members, mongod_version=cluster.mongod_version))
            for spec in specs or []:
                if not isinstance(spec, dict):
                    raise StateError("each snapshot must be an object")
                when = parse_time(spec["created_at"]) if spec.get("created_at") is not None else time.time()
                status = _STATUS_ALIASES.get(str(spec.get("status") or "completed").lower().replace("-", "_"))
                if status is None:
                    raise StateError("snapshot status must be one of %s" % ", ".join(SNAPSHOT_STATUSES))
                stype = _TYPE_ALIASES.get(str(spec.get("snapshot_type") or "scheduled").lower())
                if stype is None:
                    raise StateError("snapshot_type must be one of %s" % ", ".join(SNAPSHOT_TYPES))
                snapshot_id = spec.get("id")
                if snapshot_id is not None and (not isinstance(snapshot_id, str) or not HEX24.match(snapshot_id)):
                    raise StateError("snapshot id must be 24 hex digits")
                if snapshot_id is not None and snapshot_id in cluster.snapshot_by_id:
                    raise StateError("snapshot %s exists already" % snapshot_id)
                expires = parse_time(spec["expires_at"]) if spec.get("expires_at") is not None else None
                created.append(Snapshot(when, status=status, snapshot_type=stype, frequency_type=spec.get("frequency_type"),
                                        description=spec.get("description"), size=spec.get("storage_size_bytes"),
                                        mongod_version=spec.get("mongod_version") or cluster.mongod_version,
                                        expires=expires, snapshot_id=snapshot_id, members=members))
            for snapshot in created:
                cluster.add_snapshot(snapshot)
            return cluster, created

    # -- restore jobs ----------------------------------------------------------------------------

    def register_job(self, cluster, job):
        """Store a new job (caller holds the lock)."""
        cluster.jobs.append(job)
        self.jobs[job.id] = job
        target = self.find_cluster(job.target_project_id, job.target_cluster_name) if job.writes_target else None
        if target is not None:
            target.incoming.append(job)
        if job.writes_target and job.target_cluster_name and not job.is_terminal():
            key = (job.target_project_id, job.target_cluster_name)
            self._active_by_target.setdefault(key, {})[job.id] = job

    def active_jobs_targeting(self, project_id, cluster_name, now=None, first_only=False):
        """Non-terminal jobs that restore onto the given cluster (caller holds the lock)."""
        now = time.time() if now is None else now
        bucket = self._active_by_target.get((project_id, cluster_name))
        if not bucket:
            return []
        active = []
        for job_id, job in list(bucket.items()):
            if job.is_terminal(now):
                del bucket[job_id]  # terminal for good, unless set_job_state revives it (which re-adds it)
            else:
                active.append(job)
                if first_only:
                    break
        return active

    def set_job_state(self, job_id, state):
        state = _STATE_ALIASES.get(str(state).lower())
        if state is None:
            raise StateError("state must be one of %s" % ", ".join(JOB_STATES))
        with self.lock:
            job = self.jobs.get(job_id)
            if job is None:
                raise StateError("no restore job %s" % job_id, not_found=True)
            job.force(state)
            if state == "running" and job.writes_target and job.target_cluster_name:
                key = (job.target_project_id, job.target_cluster_name)
                self._active_by_target.setdefault(key, {})[job.id] = job
            return job

    def seed_jobs(self, project_id, cluster_name, count=1, delivery_type="automated", snapshot_id=None,
                  target_cluster_name=None, target_project_id=None, state="completed", created_at=None,
                  job_seconds=None, point_in_time_utc_seconds=None, oplog_ts=None, oplog_inc=None, default_seconds=3.0):
        """Bulk creation of jobs for tests and benchmarks (no validation against Atlas rules)."""
        delivery_type = {"point_in_time": "pointInTime", "pointintime": "pointInTime"}.get(
            str(delivery_type).lower(), str(delivery_type).lower())
        if delivery_type not in ("automated", "download", "pointInTime"):
            raise StateError("delivery_type must be automated, download or point_in_time")
        # auto: the normal lifecycle from the creation time (duration: job_seconds, the cluster's, else the global one).
        # running: the same when job_seconds or the cluster's job_seconds is set, else running until set_job_state.
        state = str(state).lower()
        auto = state == "auto"
        if not auto:
            state = _STATE_ALIASES.get(state)
            if state is None:
                raise StateError("state must be one of %s or auto" % ", ".join(JOB_STATES))
        count = int(count)
        if count < 1 or count > 1000000:
            raise StateError("count must be 1..1000000")
        with self.lock:
            cluster = self.cluster(project_id, cluster_name)
            cluster_type = cluster.type
            if cluster_type == "flex" and delivery_type != "automated":
                raise StateError("flex restore jobs are automated restores only")
            snapshot = None
            if snapshot_id is not None:
                snapshot = cluster.snapshot_by_id.get(snapshot_id)
                if snapshot is None and not (isinstance(snapshot_id, str) and HEX24.match(snapshot_id)):
                    raise StateError("snapshot_id must be 24 hex digits")
            elif delivery_type != "pointInTime":
                done = [s for s in cluster.snapshots if s.status == "completed"]
                snapshot = done[-1] if done else None
                snapshot_id = snapshot.id if snapshot is not None else new_id()
            now = time.time()
            created = parse_time(created_at) if created_at is not None else now
            duration = float(job_seconds) if job_seconds is not None else (
                cluster.job_seconds if cluster.job_seconds is not None else default_seconds)
            if state == "running" and (job_seconds is not None or cluster.job_seconds is not None):
                auto = True
            outcome = cluster.job_outcome or "completed"
            if delivery_type == "download" and cluster_type in ("dedicated", "legacy"):
                target_cluster_name = None
                target_project_id = None
            else:
                target_cluster_name = target_cluster_name or cluster.name
                target_project_id = target_project_id or project_id
            ids = IDS.many(count, created)
            batch = new_id(created) if cluster_type == "legacy" else None
            for job_id in ids:
                job = Job(cluster_type, cluster, delivery_type, created=created, duration=duration, outcome=outcome, job_id=job_id)
                job.snapshot_id = snapshot_id if delivery_type != "pointInTime" else None
                job.snapshot_time = snapshot.created if snapshot is not None else (created - 3600.0)
                job.snapshot_finished = snapshot.finished if snapshot is not None else job.snapshot_time + 300.0
                job.target_cluster_name = target_cluster_name
                job.target_project_id = target_project_id
                if delivery_type == "pointInTime":
                    if oplog_ts is not None:
                        job.oplog_ts = int(oplog_ts)
                        job.oplog_inc = int(oplog_inc or 1)
                    else:
                        job.pit_seconds = int(point_in_time_utc_seconds or (created - 3600))
                        job.pit_millis = job.pit_seconds * 1000
                if cluster_type == "legacy":
                    job.method_name = "HTTP" if delivery_type == "download" else "AUTOMATED_RESTORE"
                    job.batch_id = batch
                if not auto:
                    job.forced = state
                    job.forced_at = None if state == "running" else created + duration
                self.register_job(cluster, job)
            return ids
