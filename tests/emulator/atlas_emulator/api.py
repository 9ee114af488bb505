"""The 23 Admin API v2 operations of the restore subset, on top of :mod:`state`."""

from __future__ import annotations

import hashlib
import re
import time
from urllib.parse import urlencode

from . import views
from .state import Job, Snapshot
from .util import HEX24, CLUSTER_NAME, V20230101, V20240805, V20241113, ApiError, invalid, new_id, parse_time

MIN_EPOCH = 1199145600
_FLEX_TARGET = re.compile(r"^[\w\-.(),:&@+']{1,64}$")

# (method, path template below /api/atlas/v2, operationId, media type)
ROUTES = (
    ("GET", "/groups/{groupId}/clusters/{clusterName}/backup/restoreJobs", "listGroupClusterBackupRestoreJobs", V20230101),
    ("POST", "/groups/{groupId}/clusters/{clusterName}/backup/restoreJobs", "createGroupClusterBackupRestoreJob", V20230101),
    ("GET", "/groups/{groupId}/clusters/{clusterName}/backup/restoreJobs/{restoreJobId}", "getGroupClusterBackupRestoreJob",
     V20230101),
    ("DELETE", "/groups/{groupId}/clusters/{clusterName}/backup/restoreJobs/{restoreJobId}",
     "cancelGroupClusterBackupRestoreJob", V20230101),
    ("GET", "/groups/{groupId}/clusters/{clusterName}/backup/snapshots", "listGroupClusterBackupSnapshots", V20230101),
    ("GET", "/groups/{groupId}/clusters/{clusterName}/backup/snapshots/{snapshotId}", "getGroupClusterBackupSnapshot",
     V20230101),
    ("GET", "/groups/{groupId}/clusters/{clusterName}/backup/snapshots/shardedClusters",
     "listGroupClusterBackupSnapshotShardedClusters", V20230101),
    ("GET", "/groups/{groupId}/clusters/{clusterName}/backup/snapshots/shardedCluster/{snapshotId}",
     "getGroupClusterBackupSnapshotShardedCluster", V20230101),
    ("GET", "/groups/{groupId}/serverless/{clusterName}/backup/restoreJobs", "listGroupServerlessBackupRestoreJobs", V20230101),
    ("POST", "/groups/{groupId}/serverless/{clusterName}/backup/restoreJobs", "createGroupServerlessBackupRestoreJob",
     V20230101),
    ("GET", "/groups/{groupId}/serverless/{clusterName}/backup/restoreJobs/{restoreJobId}",
     "getGroupServerlessBackupRestoreJob", V20230101),
    ("GET", "/groups/{groupId}/serverless/{clusterName}/backup/snapshots", "listGroupServerlessBackupSnapshots", V20230101),
    ("GET", "/groups/{groupId}/serverless/{clusterName}/backup/snapshots/{snapshotId}", "getGroupServerlessBackupSnapshot",
     V20230101),
    ("GET", "/groups/{groupId}/flexClusters/{name}/backup/restoreJobs", "listGroupFlexClusterBackupRestoreJobs", V20241113),
    ("POST", "/groups/{groupId}/flexClusters/{name}/backup/restoreJobs", "createGroupFlexClusterBackupRestoreJob", V20241113),
    ("GET", "/groups/{groupId}/flexClusters/{name}/backup/restoreJobs/{restoreJobId}", "getGroupFlexClusterBackupRestoreJob",
     V20241113),
    ("GET", "/groups/{groupId}/flexClusters/{name}/backup/snapshots", "listGroupFlexClusterBackupSnapshots", V20241113),
    ("GET", "/groups/{groupId}/flexClusters/{name}/backup/snapshots/{snapshotId}", "getGroupFlexClusterBackupSnapshot",
     V20241113),
    ("GET", "/groups/{groupId}/clusters/{clusterName}/restoreJobs", "listGroupClusterRestoreJobs", V20230101),
    ("POST", "/groups/{groupId}/clusters/{clusterName}/restoreJobs", "createGroupClusterRestoreJob", V20230101),
    ("GET", "/groups/{groupId}/clusters/{clusterName}/restoreJobs/{jobId}", "getGroupClusterRestoreJob", V20230101),
    ("GET", "/groups/{groupId}/clusters/{clusterName}/snapshots", "listGroupClusterSnapshots", V20230101),
    ("GET", "/groups/{groupId}/clusters/{clusterName}/snapshots/{snapshotId}", "getGroupClusterSnapshot", V20230101),
    ("POST", "/groups/{groupId}/clusters/{clusterName}/backup/snapshots", "takeGroupClusterBackupSnapshots", V20230101),
    ("GET", "/groups/{groupId}/clusters", "listGroupClusters", V20240805),
    ("GET", "/groups/{groupId}/clusters/{clusterName}", "getGroupCluster", V20240805),
    ("GET", "/groups/{groupId}/clusters/{clusterName}/backup/schedule", "getGroupClusterBackupSchedule", (V20240805, V20230101)),
    ("GET", "/groups/{groupId}/flexClusters", "listGroupFlexClusters", V20241113),
    ("GET", "/groups/{groupId}/flexClusters/{name}", "getGroupFlexCluster", V20241113),
)

API_PREFIX = "/api/atlas/v2"


class Route:
    __slots__ = ("method", "template", "operation_id", "media_types", "segments", "literals")

    def __init__(self, method, template, operation_id, media_types):
        self.method = method
        self.template = template
        self.operation_id = operation_id
        self.media_types = media_types if isinstance(media_types, tuple) else (media_types,)
        self.segments = template.strip("/").split("/")
        self.literals = sum(1 for s in self.segments if not s.startswith("{"))

    def match(self, parts):
        if len(parts) != len(self.segments):
            return None
        params = {}
        for seg, part in zip(self.segments, parts):
            if seg.startswith("{"):
                if not part:
                    return None
                params[seg[1:-1]] = part
            elif seg != part:
                return None
        return params


_ROUTES = sorted((Route(*r) for r in ROUTES), key=lambda r: -r.literals)
ROUTE_BY_OPERATION = {r.operation_id: r for r in _ROUTES}


def match_route(method, path):
    """(route or None, params, path_exists_for_other_method)."""
    if not path.startswith(API_PREFIX + "/"):
        return None, {}, False
    parts = path[len(API_PREFIX):].strip("/").split("/")
    other = False
    for route in _ROUTES:
        params = route.match(parts)
        if params is None:
            continue
        if route.method == method:
            return route, params, True
        other = True
    return None, {}, other


class Ctx:
    """One API call as the operations see it."""

    __slots__ = ("method", "path", "params", "query", "body", "base", "now", "lag", "media_type")

    def __init__(self, method, path, params, query, body, base, lag=0.0):
        self.method = method
        self.path = path
        self.params = params
        self.query = query  # name -> last value
        self.body = body
        self.base = base  # http://host:port/api/atlas/v2
        self.now = time.time()
        self.lag = lag  # a lag_list fault: jobs younger than this are not listed yet
        self.media_type = None


def _nf(error_code, detail):
    return ApiError(404, error_code, detail)


def _int_query(query, name, default, minimum=None, maximum=None):
    raw = query.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, "INVALID_QUERY_PARAMETER", "Invalid value %r for query parameter %s." % (raw, name),
                       parameters=[name]) from None
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        raise ApiError(400, "INVALID_QUERY_PARAMETER", "Value %d for query parameter %s is out of range." % (value, name),
                       parameters=[name])
    return value


def _bool_query(query, name, default):
    raw = query.get(name)
    if raw is None:
        return default
    if raw.lower() in ("true", "false"):
        return raw.lower() == "true"
    raise ApiError(400, "INVALID_QUERY_PARAMETER", "Invalid boolean %r for query parameter %s." % (raw, name),
                   parameters=[name])


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


class AtlasApi:
    def __init__(self, state, config):
        self.state = state
        self.config = config

    def call(self, route, ctx):
        handler = getattr(self, "op_" + route.operation_id)
        with self.state.lock:
            return handler(ctx)

    # -- look-ups --------------------------------------------------------------------------------

    def _project(self, group_id):
        project = self.state.projects.get(group_id)
        if project is None:
            raise _nf("RESOURCE_NOT_FOUND", "No project with ID %s exists." % group_id)
        return project

    def _cluster(self, ctx, api):
        """The cluster of the path; ``api`` is cloud, legacy, serverless or flex."""
        group_id = ctx.params["groupId"]
        name = ctx.params.get("clusterName") or ctx.params.get("name")
        project = self._project(group_id)
        cluster = project.clusters.get(name)
        if api == "serverless":
            if cluster is None or cluster.type != "serverless":
                raise _nf("SERVERLESS_INSTANCE_NOT_FOUND", "No serverless instance with name %s exists in group %s." % (name, group_id))
            return cluster
        if api == "flex":
            if cluster is None:
                raise _nf("CLUSTER_NOT_FOUND", "No cluster named %s exists in group %s." % (name, group_id))
            if cluster.type != "flex":
                raise ApiError(400, "CANNOT_USE_NON_FLEX_CLUSTER_IN_FLEX_API",
                               "Cluster %s is not a flex cluster; use the cluster API." % name, parameters=[name])
            return cluster
        if cluster is None or cluster.type == "serverless":
            raise _nf("CLUSTER_NOT_FOUND", "No cluster named %s exists in group %s." % (name, group_id))
        if api == "any" and cluster.type != "flex":
            return cluster
        if cluster.type == "flex":
            raise ApiError(400, "CANNOT_USE_FLEX_CLUSTER_IN_CLUSTER_API",
                           "Cluster %s is a flex cluster; use the flex cluster API." % name, parameters=[name])
        if api == "cloud" and cluster.type == "legacy":
            raise ApiError(400, "CLUSTER_USES_LEGACY_BACKUP",
                           "Cluster %s uses legacy backup; use the legacy backup endpoints (restoreJobs, snapshots)." % name,
                           parameters=[name])
        if api == "legacy" and cluster.type == "dedicated":
            raise ApiError(400, "CLUSTER_USES_CLOUD_BACKUP",
                           "Cluster %s uses Cloud Backup; use the cloud backup endpoints (backup/restoreJobs, backup/snapshots)."
                           % name, parameters=[name])
        return cluster

    def _job(self, ctx, cluster, key="restoreJobId"):
        job_id = ctx.params[key]
        job = self.state.jobs.get(job_id)
        if job is None or job.project_id != cluster.project_id or job.cluster_name != cluster.name or job.family != cluster.type:
            raise _nf("RESOURCE_NOT_FOUND", "No restore job with ID %s exists for cluster %s." % (job_id, cluster.name))
        return job

    def _snapshot(self, cluster, snapshot_id):
        snap = cluster.snapshot_by_id.get(snapshot_id)
        if snap is None or (cluster.type == "legacy" and snap.status == "failed"):
            # legacy backup has no failed snapshots (only complete or not): a seeded failed one does not exist there
            raise _nf("RESOURCE_NOT_FOUND", "No snapshot with ID %s exists for cluster %s." % (snapshot_id, cluster.name))
        return snap

    def _duration(self, cluster):
        if cluster.job_seconds is not None:
            return float(cluster.job_seconds)
        return float(self.config.get("job_seconds", 3.0))

    # -- pagination ------------------------------------------------------------------------------

    def _paginate(self, ctx, items, render, paged=True):
        asked = per_page = max(len(items), 1)
        page = 1
        if paged:  # Atlas caps a page (max_items_per_page): it may hold fewer items than asked and not be the last
            asked = _int_query(ctx.query, "itemsPerPage", 100, 1, 500)
            per_page = min(asked, int(self.config["max_items_per_page"]))
            page = _int_query(ctx.query, "pageNum", 1, 1)
        include = _bool_query(ctx.query, "includeCount", True)
        total = len(items)
        start = (page - 1) * per_page
        results = [render(item) for item in items[start:start + per_page]]
        base_url = ctx.base + ctx.path[len(API_PREFIX):]
        links = []
        if paged:
            def href(number):
                query = {k: v for k, v in ctx.query.items() if k not in ("pageNum", "itemsPerPage")}
                query["pageNum"] = str(number)
                query["itemsPerPage"] = str(asked)
                return base_url + "?" + urlencode(query)
            links.append({"rel": "self", "href": href(page)})
            if page > 1:
                links.append({"rel": "previous", "href": href(page - 1)})
            if start + per_page < total:
                links.append({"rel": "next", "href": href(page + 1)})
        else:
            links.append({"rel": "self", "href": base_url})
        body = {"results": results, "links": links}
        if include:
            body["totalCount"] = total
        return body

    def _ordered(self, items, kind):
        """A list in the configured order (list_order[kind]): oldest first, newest first or mixed."""
        order = self.config["list_order"].get(kind, "oldest")
        if order == "newest":
            return items[::-1]
        if order == "mixed":  # a fixed permutation: stable from page to page
            return sorted(items, key=lambda item: hashlib.md5(item.id.encode()).hexdigest())  # nosec B324
        return items

    def _jobs(self, ctx, cluster):
        """The cluster's jobs as its list shows them: ordered, and without the ones a lag_list fault hides."""
        jobs = cluster.jobs if not ctx.lag else [j for j in cluster.jobs if j.created <= ctx.now - ctx.lag]
        return self._ordered(jobs, cluster.type)

    # -- body helpers ----------------------------------------------------------------------------

    @staticmethod
    def _body(ctx, allowed):
        body = ctx.body
        if not isinstance(body, dict):
            raise ApiError(400, "INVALID_JSON", "The request body must be a JSON object.")
        unknown = sorted(set(body) - set(allowed))
        if unknown:
            raise ApiError(400, "INVALID_ATTRIBUTE", "Invalid attribute %s specified." % unknown[0],
                           fields=[(name, "unknown or read-only attribute") for name in unknown], parameters=unknown)
        return body

    @staticmethod
    def _str(body, name, pattern=None, required=False):
        value = body.get(name)
        if value is None:
            if required:
                raise invalid(name, "is required", "MISSING_ATTRIBUTE")
            return None
        if not isinstance(value, str) or (pattern is not None and not pattern.match(value)):
            raise invalid(name, "invalid value %r" % (value,))
        return value

    @staticmethod
    def _int(body, name, minimum=None, maximum=None):
        value = body.get(name)
        if value is None:
            return None
        if not _is_int(value):
            raise invalid(name, "must be an integer")
        if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
            raise invalid(name, "value %d out of range" % value)
        return value

    def _completed_snapshot(self, cluster, snapshot_id, field="snapshotId"):
        snap = cluster.snapshot_by_id.get(snapshot_id)
        if snap is None:
            raise invalid(field, "snapshot %s does not exist for cluster %s" % (snapshot_id, cluster.name))
        if snap.status != "completed":
            raise invalid(field, "snapshot %s is not completed" % snapshot_id)
        return snap

    def _target(self, group_id, name):
        target = self.state.find_cluster(group_id, name)
        if target is None:
            raise _nf("CLUSTER_NOT_FOUND", "No cluster named %s exists in group %s." % (name, group_id))
        return target

    def _conflict(self, group_id, name, now):
        if self.state.active_jobs_targeting(group_id, name, now, first_only=True):
            raise ApiError(409, "CLUSTER_RESTORE_IN_PROGRESS_CANNOT_UPDATE",
                           "Cannot start a restore to cluster %s in group %s: a restore to that cluster is already in progress."
                           % (name, group_id), parameters=[name, group_id])

    def _new_job(self, cluster, delivery_type):
        return Job(cluster.type, cluster, delivery_type, duration=self._duration(cluster),
                   outcome=cluster.job_outcome or "completed")

    def _broken_rule(self, source, snap, target, delivery):
        """The first restore rule Atlas documents that this restore breaks: raised (restore_rule_failures: refuse,
        the default) or returned, and the job then fails (fail_job)."""
        broken = broken_restore_rule(source, snap, target, delivery)
        if broken is not None and self.config["restore_rule_failures"] == "refuse":
            raise ApiError(400, broken[0], broken[1], parameters=[source.name] + ([target.name] if target else []))
        return broken

    # -- cloud backup and serverless restore jobs ------------------------------------------------

    _CLOUD_FIELDS = ("deliveryType", "snapshotId", "targetClusterName", "targetGroupId", "pointInTimeUTCSeconds", "oplogTs",
                     "oplogInc")

    def _create_cloud(self, ctx, cluster, serverless):
        body = self._body(ctx, self._CLOUD_FIELDS)
        delivery = self._str(body, "deliveryType", required=True)
        if delivery not in ("automated", "download", "pointInTime"):
            raise invalid("deliveryType", "must be automated, download or pointInTime")
        snapshot_id = self._str(body, "snapshotId", HEX24)
        target_name = self._str(body, "targetClusterName", CLUSTER_NAME, required=serverless)
        target_group = self._str(body, "targetGroupId", HEX24, required=serverless)
        now_int = int(ctx.now)
        pit = self._int(body, "pointInTimeUTCSeconds", MIN_EPOCH)
        oplog_ts = self._int(body, "oplogTs", MIN_EPOCH)
        oplog_inc = self._int(body, "oplogInc", 1)
        snap = None
        if delivery in ("automated", "download"):
            if pit is not None or oplog_ts is not None or oplog_inc is not None:
                field = "pointInTimeUTCSeconds" if pit is not None else ("oplogTs" if oplog_ts is not None else "oplogInc")
                raise invalid(field, "only allowed for pointInTime restores")
            if snapshot_id is None:
                raise invalid("snapshotId", "is required for %s restores" % delivery, "MISSING_ATTRIBUTE")
            snap = self._completed_snapshot(cluster, snapshot_id)
        else:
            if pit is not None and (oplog_ts is not None or oplog_inc is not None):
                raise invalid("pointInTimeUTCSeconds", "give either pointInTimeUTCSeconds or oplogTs and oplogInc, not both")
            if pit is None and (oplog_ts is None or oplog_inc is None):
                field = "oplogInc" if oplog_ts is not None else ("oplogTs" if oplog_inc is not None else "pointInTimeUTCSeconds")
                raise invalid(field, "pointInTime needs pointInTimeUTCSeconds or both oplogTs and oplogInc", "MISSING_ATTRIBUTE")
            when = pit if pit is not None else oplog_ts
            if when > now_int + 5:
                raise invalid("pointInTimeUTCSeconds" if pit is not None else "oplogTs", "the point in time is in the future")
            if snapshot_id is not None:
                snap = self._completed_snapshot(cluster, snapshot_id)
        if delivery == "download" and not serverless:
            if target_name is not None or target_group is not None:
                raise invalid("targetClusterName" if target_name is not None else "targetGroupId",
                              "must not be given for download restores")
        elif target_name is None or target_group is None:
            raise invalid("targetClusterName" if target_name is None else "targetGroupId",
                          "is required for %s restores" % delivery, "MISSING_ATTRIBUTE")
        target = self._target(target_group, target_name) if target_name is not None else None
        if target is not None and delivery != "download":
            self._conflict(target_group, target_name, ctx.now)
        broken = self._broken_rule(cluster, snap, target if delivery != "download" else None, delivery)
        job = self._new_job(cluster, delivery)
        if broken is not None:
            job.outcome = "failed"
        job.snapshot_id = snapshot_id
        if snap is not None:
            job.snapshot_time = snap.created
            job.snapshot_finished = snap.finished
        job.target_cluster_name = target_name
        job.target_project_id = target_group
        job.pit_seconds = pit
        job.oplog_ts = oplog_ts
        job.oplog_inc = oplog_inc
        self.state.register_job(cluster, job)
        return 200, views.render_job(ctx.base, job, ctx.now)

    def op_listGroupClusterBackupRestoreJobs(self, ctx):  # pylint: disable=invalid-name
        cluster = self._cluster(ctx, "cloud")
        return 200, self._paginate(ctx, self._jobs(ctx, cluster), lambda j: views.dedicated_job(ctx.base, j, ctx.now))

    def op_createGroupClusterBackupRestoreJob(self, ctx):  # pylint: disable=invalid-name
        return self._create_cloud(ctx, self._cluster(ctx, "cloud"), serverless=False)

    def op_getGroupClusterBackupRestoreJob(self, ctx):  # pylint: disable=invalid-name
        cluster = self._cluster(ctx, "cloud")
        return 200, views.dedicated_job(ctx.base, self._job(ctx, cluster), ctx.now)

    def op_cancelGroupClusterBackupRestoreJob(self, ctx):  # pylint: disable=invalid-name
        cluster = self._cluster(ctx, "cloud")
        job = self._job(ctx, cluster)
        if job.sharded:
            raise ApiError(405, "ATLAS_BACKUP_CANCEL_SHARD_RESTORE_JOB_NOT_ALLOWED",
                           "Cannot cancel restore job %s of sharded cluster %s." % (job.id, cluster.name), parameters=[job.id])
        if job.is_terminal(ctx.now):
            raise ApiError(400, "RESTORE_JOB_CANNOT_BE_CANCELLED",
                           "Restore job %s has already finished and cannot be cancelled." % job.id, parameters=[job.id])
        job.force("cancelled", ctx.now)
        return 204, None

    def op_listGroupServerlessBackupRestoreJobs(self, ctx):  # pylint: disable=invalid-name
        cluster = self._cluster(ctx, "serverless")
        return 200, self._paginate(ctx, self._jobs(ctx, cluster), lambda j: views.serverless_job(ctx.base, j, ctx.now))

    def op_createGroupServerlessBackupRestoreJob(self, ctx):  # pylint: disable=invalid-name
        return self._create_cloud(ctx, self._cluster(ctx, "serverless"), serverless=True)

    def op_getGroupServerlessBackupRestoreJob(self, ctx):  # pylint: disable=invalid-name
        cluster = self._cluster(ctx, "serverless")
        return 200, views.serverless_job(ctx.base, self._job(ctx, cluster), ctx.now)

    # -- flex restore jobs -----------------------------------------------------------------------

    def op_listGroupFlexClusterBackupRestoreJobs(self, ctx):  # pylint: disable=invalid-name
        cluster = self._cluster(ctx, "flex")
        return 200, self._paginate(ctx, self._jobs(ctx, cluster), lambda j: views.flex_job(ctx.base, j, ctx.now))

    def op_createGroupFlexClusterBackupRestoreJob(self, ctx):  # pylint: disable=invalid-name
        cluster = self._cluster(ctx, "flex")
        body = self._body(ctx, ("snapshotId", "targetDeploymentItemName", "targetProjectId"))
        snapshot_id = self._str(body, "snapshotId", HEX24, required=True)
        target_name = self._str(body, "targetDeploymentItemName", _FLEX_TARGET, required=True)
        target_group = self._str(body, "targetProjectId", HEX24) or cluster.project_id
        snap = self._completed_snapshot(cluster, snapshot_id)
        target = self._target(target_group, target_name)
        self._conflict(target_group, target_name, ctx.now)
        broken = self._broken_rule(cluster, snap, target, "automated")
        job = self._new_job(cluster, "automated")
        if broken is not None:
            job.outcome = "failed"
        job.snapshot_id = snapshot_id
        job.snapshot_time = snap.created
        job.snapshot_finished = snap.finished
        job.target_cluster_name = target_name
        job.target_project_id = target_group
        self.state.register_job(cluster, job)
        return 200, views.flex_job(ctx.base, job, ctx.now)

    def op_getGroupFlexClusterBackupRestoreJob(self, ctx):  # pylint: disable=invalid-name
        cluster = self._cluster(ctx, "flex")
        return 200, views.flex_job(ctx.base, self._job(ctx, cluster), ctx.now)

    # -- legacy restore jobs ---------------------------------------------------------------------

    def op_listGroupClusterRestoreJobs(self, ctx):  # pylint: disable=invalid-name
        cluster = self._cluster(ctx, "legacy")
        jobs = self._jobs(ctx, cluster)
        batch = ctx.query.get("batchId")
        if batch is not None:
            if not HEX24.match(batch):
                raise ApiError(400, "INVALID_QUERY_PARAMETER", "Invalid batchId %r." % batch, parameters=["batchId"])
            jobs = [j for j in jobs if j.batch_id == batch]
        return 200, self._paginate(ctx, jobs, lambda j: views.legacy_job(ctx.base, j, ctx.now))

    def op_createGroupClusterRestoreJob(self, ctx):  # pylint: disable=invalid-name
        cluster = self._cluster(ctx, "legacy")
        body = self._body(ctx, ("delivery", "snapshotId", "checkpointId", "oplogTs", "oplogInc", "pointInTimeUTCMillis"))
        delivery = body.get("delivery")
        if delivery is None:
            raise invalid("delivery", "is required", "MISSING_ATTRIBUTE")
        if not isinstance(delivery, dict):
            raise invalid("delivery", "must be an object")
        unknown = sorted(set(delivery) - {"methodName", "expirationHours", "maxDownloads", "targetClusterId",
                                          "targetClusterName", "targetGroupId"})
        if unknown:
            raise invalid("delivery." + unknown[0], "unknown or read-only attribute")
        method = self._str(delivery, "methodName", required=True)
        if method not in ("AUTOMATED_RESTORE", "HTTP"):
            raise invalid("delivery.methodName", "the emulator supports AUTOMATED_RESTORE and HTTP only")
        expiration_hours = self._int(delivery, "expirationHours", 1)
        max_downloads = self._int(delivery, "maxDownloads", 1)
        target_id = self._str(delivery, "targetClusterId", HEX24)
        target_name = self._str(delivery, "targetClusterName", CLUSTER_NAME)
        target_group = self._str(delivery, "targetGroupId", HEX24)
        snapshot_id = self._str(body, "snapshotId", HEX24)
        if body.get("checkpointId") is not None:
            raise invalid("checkpointId", "checkpoint restores cannot be created through this endpoint")
        oplog_text = self._str(body, "oplogTs")
        oplog_inc = self._int(body, "oplogInc", 1)
        millis = self._int(body, "pointInTimeUTCMillis", MIN_EPOCH * 1000)
        forms = [name for name, value in (("snapshotId", snapshot_id), ("oplogTs", oplog_text),
                                          ("pointInTimeUTCMillis", millis)) if value is not None]
        if len(forms) != 1:
            raise invalid(forms[1] if len(forms) > 1 else "snapshotId",
                          "give exactly one of snapshotId, oplogTs with oplogInc, pointInTimeUTCMillis",
                          "INVALID_ATTRIBUTE" if forms else "MISSING_ATTRIBUTE")
        oplog_seconds = None
        if oplog_text is not None:
            if oplog_inc is None:
                raise invalid("oplogInc", "is required with oplogTs", "MISSING_ATTRIBUTE")
            try:
                oplog_seconds = parse_time(oplog_text)
            except ValueError:
                raise invalid("oplogTs", "must be an ISO 8601 timestamp") from None
            if oplog_seconds > ctx.now + 5:
                raise invalid("oplogTs", "the point in time is in the future")
        elif oplog_inc is not None:
            raise invalid("oplogInc", "only allowed with oplogTs")
        if millis is not None:
            now_ms = ctx.now * 1000.0
            if millis > now_ms + 5000 or millis < now_ms - 86400000:
                raise invalid("pointInTimeUTCMillis", "must lie within the last 24 hours")
        snap = self._completed_snapshot(cluster, snapshot_id) if snapshot_id is not None else None
        if method == "AUTOMATED_RESTORE":
            if target_group is None or (target_name is None and target_id is None):
                raise invalid("delivery.targetGroupId" if target_group is None else "delivery.targetClusterName",
                              "AUTOMATED_RESTORE needs targetGroupId and targetClusterName or targetClusterId", "MISSING_ATTRIBUTE")
            if target_id is not None:
                project = self.state.projects.get(target_group)
                matches = [c for c in (project.clusters.values() if project else []) if c.id == target_id]
                if not matches:
                    raise _nf("CLUSTER_NOT_FOUND", "No cluster with ID %s exists in group %s." % (target_id, target_group))
                if target_name is not None and matches[0].name != target_name:
                    raise invalid("delivery.targetClusterId", "does not match targetClusterName")
                target_name = matches[0].name
            else:
                self._target(target_group, target_name)
        else:
            if target_group is not None or target_name is not None or target_id is not None:
                raise invalid("delivery.targetClusterName", "targets are only allowed with AUTOMATED_RESTORE")
            if snap is None:
                raise invalid("snapshotId", "HTTP delivery needs a snapshotId", "MISSING_ATTRIBUTE")
        batch_id = new_id(ctx.now)
        jobs = []
        for shard in (cluster.shard_names if cluster.sharded else [None]):
            job = self._new_job(cluster, "automated" if method == "AUTOMATED_RESTORE" else "download")
            job.method_name = method
            job.batch_id = batch_id
            job.shard_name = shard
            job.snapshot_id = snapshot_id
            if snap is not None:
                job.snapshot_time = snap.created
                job.snapshot_finished = snap.finished
            job.target_cluster_name = target_name
            job.target_project_id = target_group
            job.pit_millis = millis
            job.oplog_ts_text = oplog_text
            job.oplog_inc = oplog_inc
            job.writes_target = method == "AUTOMATED_RESTORE"
            job.expiration_hours = expiration_hours
            job.max_downloads = max_downloads
            self.state.register_job(cluster, job)
            jobs.append(job)
        return 200, self._paginate(ctx, jobs, lambda j: views.legacy_job(ctx.base, j, ctx.now), paged=False)

    def op_getGroupClusterRestoreJob(self, ctx):  # pylint: disable=invalid-name
        cluster = self._cluster(ctx, "legacy")
        return 200, views.legacy_job(ctx.base, self._job(ctx, cluster, "jobId"), ctx.now)

    # -- clusters, the backup schedule and on-demand snapshots ----------------------------------------

    def op_listGroupClusters(self, ctx):  # pylint: disable=invalid-name
        project = self._project(ctx.params["groupId"])
        clusters = [c for c in project.clusters.values() if c.type in ("dedicated", "legacy")]
        return 200, self._paginate(ctx, clusters, lambda c: views.dedicated_cluster(ctx.base, c, ctx.now))

    def op_getGroupCluster(self, ctx):  # pylint: disable=invalid-name
        return 200, views.dedicated_cluster(ctx.base, self._cluster(ctx, "any"), ctx.now)

    def op_listGroupFlexClusters(self, ctx):  # pylint: disable=invalid-name
        project = self._project(ctx.params["groupId"])
        clusters = [c for c in project.clusters.values() if c.type == "flex"]
        return 200, self._paginate(ctx, clusters, lambda c: views.flex_cluster(ctx.base, c, ctx.now))

    def op_getGroupFlexCluster(self, ctx):  # pylint: disable=invalid-name
        return 200, views.flex_cluster(ctx.base, self._cluster(ctx, "flex"), ctx.now)

    def op_getGroupClusterBackupSchedule(self, ctx):  # pylint: disable=invalid-name
        return 200, views.backup_schedule(ctx.base, self._cluster(ctx, "cloud"), ctx.now)

    def op_takeGroupClusterBackupSnapshots(self, ctx):  # pylint: disable=invalid-name
        cluster = self._cluster(ctx, "cloud")
        body = self._body(ctx, ("description", "retentionInDays"))
        description = self._str(body, "description")
        retention = self._int(body, "retentionInDays", 1) or 1
        if not cluster.backup_enabled:
            raise ApiError(400, "BACKUP_NOT_ENABLED", "Cluster %s has no backup enabled." % cluster.name, parameters=[cluster.name])
        if cluster.paused:
            raise ApiError(400, "CANNOT_TAKE_SNAPSHOT_OF_PAUSED_CLUSTER", "Cluster %s is paused." % cluster.name,
                           parameters=[cluster.name])
        snap = Snapshot(ctx.now, snapshot_type="on_demand", description=description, mongod_version=cluster.mongodb_version,
                        expires=ctx.now + retention * 86400.0, members=len(cluster.shard_names) if cluster.sharded else 0,
                        ready_at=ctx.now + float(self.config["snapshot_seconds"]))
        cluster.add_snapshot(snap)
        return 200, views.dedicated_snapshot(ctx.base, cluster, snap)

    # -- snapshots -------------------------------------------------------------------------------

    def op_listGroupClusterBackupSnapshots(self, ctx):  # pylint: disable=invalid-name
        cluster = self._cluster(ctx, "cloud")
        snaps = cluster.snapshots
        pit = _int_query(ctx.query, "pointInTimeUtcSeconds", None)
        oplog_ts = _int_query(ctx.query, "oplogTs", None)
        oplog_inc = _int_query(ctx.query, "oplogInc", None)
        if pit is not None and (oplog_ts is not None or oplog_inc is not None):
            raise ApiError(400, "INVALID_QUERY_PARAMETER", "pointInTimeUtcSeconds and oplogTs/oplogInc are mutually exclusive.",
                           parameters=["pointInTimeUtcSeconds"])
        when = pit if pit is not None else oplog_ts
        if when is not None:
            before = [s for s in snaps if s.status == "completed" and s.created <= when]
            snaps = before[-1:]
        return 200, self._paginate(ctx, self._ordered(snaps, "snapshots"), lambda s: views.dedicated_snapshot(ctx.base, cluster, s))

    def op_getGroupClusterBackupSnapshot(self, ctx):  # pylint: disable=invalid-name
        cluster = self._cluster(ctx, "cloud")
        return 200, views.dedicated_snapshot(ctx.base, cluster, self._snapshot(cluster, ctx.params["snapshotId"]))

    def op_listGroupClusterBackupSnapshotShardedClusters(self, ctx):  # pylint: disable=invalid-name
        cluster = self._cluster(ctx, "cloud")
        snaps = cluster.snapshots if cluster.sharded else []
        return 200, self._paginate(ctx, snaps, lambda s: views.sharded_snapshot(ctx.base, cluster, s), paged=False)

    def op_getGroupClusterBackupSnapshotShardedCluster(self, ctx):  # pylint: disable=invalid-name
        cluster = self._cluster(ctx, "cloud")
        snapshot_id = ctx.params["snapshotId"]
        if not cluster.sharded:
            raise _nf("RESOURCE_NOT_FOUND", "No sharded cluster snapshot with ID %s exists for cluster %s." % (snapshot_id, cluster.name))
        return 200, views.sharded_snapshot(ctx.base, cluster, self._snapshot(cluster, snapshot_id))

    def op_listGroupServerlessBackupSnapshots(self, ctx):  # pylint: disable=invalid-name
        cluster = self._cluster(ctx, "serverless")
        return 200, self._paginate(ctx, self._ordered(cluster.snapshots, "snapshots"),
                                   lambda s: views.serverless_snapshot(ctx.base, cluster, s))

    def op_getGroupServerlessBackupSnapshot(self, ctx):  # pylint: disable=invalid-name
        cluster = self._cluster(ctx, "serverless")
        return 200, views.serverless_snapshot(ctx.base, cluster, self._snapshot(cluster, ctx.params["snapshotId"]))

    def op_listGroupFlexClusterBackupSnapshots(self, ctx):  # pylint: disable=invalid-name
        cluster = self._cluster(ctx, "flex")
        return 200, self._paginate(ctx, self._ordered(cluster.snapshots, "snapshots"), lambda s: views.flex_snapshot(ctx.base, cluster, s))

    def op_getGroupFlexClusterBackupSnapshot(self, ctx):  # pylint: disable=invalid-name
        cluster = self._cluster(ctx, "flex")
        return 200, views.flex_snapshot(ctx.base, cluster, self._snapshot(cluster, ctx.params["snapshotId"]))

    def op_listGroupClusterSnapshots(self, ctx):  # pylint: disable=invalid-name
        cluster = self._cluster(ctx, "legacy")
        completed = (ctx.query.get("completed") or "true").lower()
        if completed not in ("all", "true", "false"):
            raise ApiError(400, "INVALID_QUERY_PARAMETER", "completed must be all, true or false.", parameters=["completed"])
        snaps = [s for s in cluster.snapshots if s.status != "failed"]  # see _snapshot
        if completed == "true":
            snaps = [s for s in snaps if s.status == "completed"]
        elif completed == "false":
            snaps = [s for s in snaps if s.status != "completed"]
        return 200, self._paginate(ctx, self._ordered(snaps, "snapshots"), lambda s: views.legacy_snapshot(ctx.base, cluster, s))

    def op_getGroupClusterSnapshot(self, ctx):  # pylint: disable=invalid-name
        cluster = self._cluster(ctx, "legacy")
        return 200, views.legacy_snapshot(ctx.base, cluster, self._snapshot(cluster, ctx.params["snapshotId"]))


def _version(text):
    return tuple(int(part) for part in str(text).split(".")[:2])


def broken_restore_rule(source, snap, target, delivery):
    """(error code, detail) of the first documented restore rule broken, or None (facts section 8)."""
    edition = source.database_edition
    if edition == "INFINITE" and delivery == "download":
        return "RESTORE_NOT_SUPPORTED_FOR_INFINITE_EDITION", "Infinite clusters cannot be restored by download."
    if target is None:
        return None
    if source.type == "flex" and target.sharded:
        return "INVALID_RESTORE_TARGET", "A flex snapshot restores only into a replica set."
    source_version = _version(snap.mongod_version if snap is not None else source.mongodb_version)
    target_version = _version(target.mongodb_version)
    same_major = target_version[0] == source_version[0] and target_version[1] >= source_version[1]
    if not (same_major or target_version[0] == source_version[0] + 1):
        return ("INCOMPATIBLE_MONGODB_VERSION", "Cannot restore a MongoDB %d.%d snapshot to a %d.%d cluster."
                % (source_version + target_version))
    if target.fcv is not None and _version(target.fcv)[0] != source_version[0]:
        return "INCOMPATIBLE_FEATURE_COMPATIBILITY_VERSION", "The target's pinned FCV %s does not match." % target.fcv
    if source.sharded and not target.sharded:
        return "CANNOT_RESTORE_SHARDED_TO_REPLICA_SET", "A sharded snapshot does not restore to a replica set."
    if source.sharded and (target.shards != source.shards or target.config_server_type != source.config_server_type):
        return ("SHARD_TOPOLOGY_MISMATCH", "The target needs %d shards and a %s config server."
                % (source.shards, source.config_server_type.lower()))
    if target.database_edition != edition:
        return "DATABASE_EDITION_MISMATCH", "No restore between %s and %s clusters." % (edition, target.database_edition)
    if edition == "INFINITE" and (target.provider, target.region) != (source.provider, source.region):
        return "RESTORE_NOT_SUPPORTED_FOR_INFINITE_EDITION", "Infinite clusters restore only within their region and cloud."
    if source.encryption_provider != target.encryption_provider:
        return ("ENCRYPTION_AT_REST_MISMATCH", "The snapshot's encryption at rest (%s) differs from the target's (%s)."
                % (source.encryption_provider, target.encryption_provider))
    if delivery == "pointInTime" and source.encryption_provider != "NONE" and not source.encryption_key_valid:
        return "INVALID_ENCRYPTION_KEY", "A point-in-time restore needs the current encryption key to be valid."
    return None
