"""The Admin API v2 operations, table-driven: one implementation per cluster type (dedicated, serverless, flex, legacy)."""

from __future__ import annotations

import hashlib
import re
import time
from urllib.parse import urlencode

from . import views
from .state import Job, Snapshot
from .util import HEX24, CLUSTER_NAME, V20230101, V20240805, V20241113, ApiError, invalid, new_id, parse_time

API_PREFIX = "/api/atlas/v2"
MIN_EPOCH = 1199145600
_FLEX_TARGET = re.compile(r"^[\w\-.(),:&@+']{1,64}$")


class ClusterTypeApi:
    """What tells the endpoints of one cluster type apart."""

    def __init__(self, name, segment, word, media_type, render_job, render_snapshot, jobs="backup/restoreJobs",
                 snapshots="backup/snapshots", job_param="restoreJobId"):
        self.name, self.media_type, self.job_param = name, media_type, job_param
        self.render_job, self.render_snapshot = render_job, render_snapshot
        base = "/groups/{groupId}/%s" % segment
        self.routes = (
            ("GET", "%s/%s" % (base, jobs), "listGroup%sRestoreJobs" % word, "list_jobs"),
            ("POST", "%s/%s" % (base, jobs), "createGroup%sRestoreJob" % word, "create_" + name),
            ("GET", "%s/%s/{%s}" % (base, jobs, job_param), "getGroup%sRestoreJob" % word, "get_job"),
            ("GET", "%s/%s" % (base, snapshots), "listGroup%sSnapshots" % word, "list_snapshots"),
            ("GET", "%s/%s/{snapshotId}" % (base, snapshots), "getGroup%sSnapshot" % word, "get_snapshot"),
        )


CLUSTER_TYPE_APIS = {
    "dedicated": ClusterTypeApi("dedicated", "clusters/{clusterName}", "ClusterBackup", V20230101, views.dedicated_job,
                                views.dedicated_snapshot),
    "serverless": ClusterTypeApi("serverless", "serverless/{clusterName}", "ServerlessBackup", V20230101, views.serverless_job,
                                 views.serverless_snapshot),
    "flex": ClusterTypeApi("flex", "flexClusters/{name}", "FlexClusterBackup", V20241113, views.flex_job, views.flex_snapshot),
    "legacy": ClusterTypeApi("legacy", "clusters/{clusterName}", "Cluster", V20230101, views.legacy_job, views.legacy_snapshot,
                             jobs="restoreJobs", snapshots="snapshots", job_param="jobId"),
}
_CLUSTER = "/groups/{groupId}/clusters/{clusterName}"
# (method, template, operationId, handler, cluster type, media types) beyond the five of every cluster type
EXTRA_ROUTES = (
    ("DELETE", _CLUSTER + "/backup/restoreJobs/{restoreJobId}", "cancelGroupClusterBackupRestoreJob", "cancel_job", "dedicated"),
    ("GET", _CLUSTER + "/backup/snapshots/shardedClusters", "listGroupClusterBackupSnapshotShardedClusters", "list_sharded",
     "dedicated"),
    ("GET", _CLUSTER + "/backup/snapshots/shardedCluster/{snapshotId}", "getGroupClusterBackupSnapshotShardedCluster",
     "get_sharded", "dedicated"),
    ("POST", _CLUSTER + "/backup/snapshots", "takeGroupClusterBackupSnapshots", "take_snapshot", "dedicated"),
    ("GET", "/groups/{groupId}/clusters", "listGroupClusters", "list_clusters", "dedicated", (V20240805,)),
    ("GET", _CLUSTER, "getGroupCluster", "get_cluster", "any", (V20240805,)),
    ("GET", _CLUSTER + "/backup/schedule", "getGroupClusterBackupSchedule", "schedule", "dedicated", (V20240805, V20230101)),
    ("GET", "/groups/{groupId}/flexClusters", "listGroupFlexClusters", "list_clusters", "flex"),
    ("GET", "/groups/{groupId}/flexClusters/{name}", "getGroupFlexCluster", "get_cluster", "flex"),
)


class Route:
    __slots__ = ("method", "operation_id", "handler", "cluster_type", "media_types", "segments", "literals")

    def __init__(self, method, template, operation_id, handler, cluster_type, media_types=None):
        self.method, self.operation_id, self.handler, self.cluster_type = method, operation_id, handler, cluster_type
        self.media_types = media_types or (CLUSTER_TYPE_APIS[cluster_type if cluster_type != "any" else "dedicated"].media_type,)
        self.segments = template.strip("/").split("/")
        self.literals = sum(1 for s in self.segments if not s.startswith("{"))

    def match(self, parts):
        if len(parts) != len(self.segments):
            return None
        params = {}
        for seg, part in zip(self.segments, parts):
            if seg.startswith("{") and part:
                params[seg[1:-1]] = part
            elif seg != part:
                return None
        return params


_ROUTES = sorted([Route(m, t, o, h, f.name) for f in CLUSTER_TYPE_APIS.values() for m, t, o, h in f.routes] +
                 [Route(*r) for r in EXTRA_ROUTES], key=lambda r: -r.literals)


def match_route(method, path):
    """(route or None, params, whether the path exists for another method)."""
    if not path.startswith(API_PREFIX + "/"):
        return None, {}, False
    parts = path[len(API_PREFIX):].strip("/").split("/")
    other = False
    for route in _ROUTES:
        params = route.match(parts)
        if params is not None:
            if route.method == method:
                return route, params, True
            other = True
    return None, {}, other


class Ctx:
    """One API call as the operations see it."""

    __slots__ = ("method", "path", "params", "query", "body", "base", "now", "lag", "media_type")

    def __init__(self, method, path, params, query, body, base, lag=0.0):
        self.method, self.path, self.params, self.query, self.body = method, path, params, query, body
        self.base = base  # http://host:port/api/atlas/v2
        self.now = time.time()
        self.lag = lag  # a lag_list fault: jobs younger than this are not listed yet
        self.media_type = None


def _query_error(detail, name):
    return ApiError(400, "INVALID_QUERY_PARAMETER", detail, parameters=[name])


def _int_query(query, name, default, minimum=None, maximum=None):
    raw = query.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise _query_error("Invalid value %r for query parameter %s." % (raw, name), name) from None
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        raise _query_error("Value %d for query parameter %s is out of range." % (value, name), name)
    return value


def _bool_query(query, name, default):
    raw = query.get(name)
    if raw is None or raw.lower() in ("true", "false"):
        return default if raw is None else raw.lower() == "true"
    raise _query_error("Invalid boolean %r for query parameter %s." % (raw, name), name)


def _body(ctx, allowed):
    if not isinstance(ctx.body, dict):
        raise ApiError(400, "INVALID_JSON", "The request body must be a JSON object.")
    unknown = sorted(set(ctx.body) - set(allowed))
    if unknown:
        raise ApiError(400, "INVALID_ATTRIBUTE", "Invalid attribute %s specified." % unknown[0],
                       fields=[(name, "unknown or read-only attribute") for name in unknown], parameters=unknown)
    return ctx.body


def _str(body, name, pattern=None, required=False):
    value = body.get(name)
    if value is None:
        if required:
            raise invalid(name, "is required", "MISSING_ATTRIBUTE")
        return None
    if not isinstance(value, str) or (pattern is not None and not pattern.match(value)):
        raise invalid(name, "invalid value %r" % (value,))
    return value


def _int(body, name, minimum=None):
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise invalid(name, "must be an integer")
    if minimum is not None and value < minimum:
        raise invalid(name, "value %d out of range" % value)
    return value


def _nf(error_code, detail):
    return ApiError(404, error_code, detail)


class AtlasApi:
    def __init__(self, state, config):
        self.state = state
        self.config = config

    def call(self, route, ctx):
        with self.state.lock:
            cluster_api = CLUSTER_TYPE_APIS.get(route.cluster_type)
            return getattr(self, "op_" + route.handler)(ctx, cluster_api, self._cluster(ctx, route.cluster_type)
                                                        if "clusterName" in ctx.params or "name" in ctx.params else None)

    # -- look-ups --------------------------------------------------------------------------------

    def _project(self, group_id):
        project = self.state.projects.get(group_id)
        if project is None:
            raise _nf("RESOURCE_NOT_FOUND", "No project with ID %s exists." % group_id)
        return project

    def _cluster(self, ctx, cluster_type):
        """The cluster of the path, refused with Atlas's error when it belongs to another cluster type's endpoints."""
        group_id = ctx.params["groupId"]
        name = ctx.params.get("clusterName") or ctx.params.get("name")
        cluster = self._project(group_id).clusters.get(name)
        kind = cluster.type if cluster is not None else None
        if cluster_type == "serverless":
            if kind != "serverless":
                raise _nf("SERVERLESS_INSTANCE_NOT_FOUND", "No serverless instance with name %s exists in group %s." % (name, group_id))
            return cluster
        if kind is None or (kind == "serverless" and cluster_type != "flex"):
            raise _nf("CLUSTER_NOT_FOUND", "No cluster named %s exists in group %s." % (name, group_id))
        problem = None
        if cluster_type == "flex" and kind != "flex":
            problem = "CANNOT_USE_NON_FLEX_CLUSTER_IN_FLEX_API", "Cluster %s is not a flex cluster; use the cluster API."
        elif cluster_type != "flex" and kind == "flex":
            problem = "CANNOT_USE_FLEX_CLUSTER_IN_CLUSTER_API", "Cluster %s is a flex cluster; use the flex cluster API."
        elif cluster_type == "dedicated" and kind == "legacy":
            problem = "CLUSTER_USES_LEGACY_BACKUP", "Cluster %s uses legacy backup; use the legacy backup endpoints."
        elif cluster_type == "legacy" and kind == "dedicated":
            problem = "CLUSTER_USES_CLOUD_BACKUP", "Cluster %s uses Cloud Backup; use the cloud backup endpoints."
        if problem is not None:
            raise ApiError(400, problem[0], problem[1] % name, parameters=[name])
        return cluster

    def _job(self, ctx, cluster_api, cluster):
        job_id = ctx.params[cluster_api.job_param]
        job = self.state.jobs.get(job_id)
        if job is None or job.project_id != cluster.project_id or job.cluster_name != cluster.name or job.cluster_type != cluster.type:
            raise _nf("RESOURCE_NOT_FOUND", "No restore job with ID %s exists for cluster %s." % (job_id, cluster.name))
        return job

    def _snapshot(self, cluster, snapshot_id):
        snap = cluster.snapshot_by_id.get(snapshot_id)
        if snap is None or (cluster.type == "legacy" and snap.status == "failed"):
            # legacy backup has no failed snapshots (only complete or not): a seeded failed one does not exist there
            raise _nf("RESOURCE_NOT_FOUND", "No snapshot with ID %s exists for cluster %s." % (snapshot_id, cluster.name))
        return snap

    def _completed_snapshot(self, cluster, snapshot_id):
        snap = cluster.snapshot_by_id.get(snapshot_id)
        if snap is None or snap.status != "completed":
            raise invalid("snapshotId", "snapshot %s %s" % (snapshot_id, "does not exist for cluster %s" % cluster.name
                                                            if snap is None else "is not completed"))
        return snap

    def _target(self, group_id, name):
        target = self.state.find_cluster(group_id, name)
        if target is None:
            raise _nf("CLUSTER_NOT_FOUND", "No cluster named %s exists in group %s." % (name, group_id))
        return target

    # -- lists -----------------------------------------------------------------------------------

    def _paginate(self, ctx, items, render, paged=True):
        asked = per_page = max(len(items), 1)
        page = 1
        if paged:  # Atlas caps a page (max_items_per_page): it may hold fewer items than asked and not be the last
            asked = _int_query(ctx.query, "itemsPerPage", 100, 1, 500)
            per_page = min(asked, int(self.config["max_items_per_page"]))
            page = _int_query(ctx.query, "pageNum", 1, 1)
        include = _bool_query(ctx.query, "includeCount", True)
        start = (page - 1) * per_page
        base_url = ctx.base + ctx.path[len(API_PREFIX):]

        def href(number):
            query = {k: v for k, v in ctx.query.items() if k not in ("pageNum", "itemsPerPage")}
            return base_url + "?" + urlencode(dict(query, pageNum=str(number), itemsPerPage=str(asked)))

        links = [{"rel": "self", "href": href(page) if paged else base_url}]
        if paged and page > 1:
            links.append({"rel": "previous", "href": href(page - 1)})
        if paged and start + per_page < len(items):
            links.append({"rel": "next", "href": href(page + 1)})
        body = {"results": [render(item) for item in items[start:start + per_page]], "links": links}
        if include:
            body["totalCount"] = len(items)
        return body

    def _ordered(self, items, kind):
        """A list in the configured order (list_order[kind]): oldest first, newest first or mixed."""
        order = self.config["list_order"].get(kind, "oldest")
        if order == "newest":
            return items[::-1]
        if order == "mixed":  # a fixed permutation: stable from page to page
            return sorted(items, key=lambda item: hashlib.md5(item.id.encode()).hexdigest())  # nosec B324
        return items

    def op_list_jobs(self, ctx, cluster_api, cluster):
        jobs = cluster.jobs if not ctx.lag else [j for j in cluster.jobs if j.created <= ctx.now - ctx.lag]
        batch = ctx.query.get("batchId") if cluster_api.name == "legacy" else None
        if batch is not None:
            if not HEX24.match(batch):
                raise _query_error("Invalid batchId %r." % batch, "batchId")
            jobs = [j for j in jobs if j.batch_id == batch]
        return 200, self._paginate(ctx, self._ordered(jobs, cluster_api.name), lambda j: cluster_api.render_job(ctx.base, j, ctx.now))

    def op_get_job(self, ctx, cluster_api, cluster):
        return 200, cluster_api.render_job(ctx.base, self._job(ctx, cluster_api, cluster), ctx.now)

    def op_cancel_job(self, ctx, cluster_api, cluster):
        job = self._job(ctx, cluster_api, cluster)
        if job.sharded:
            raise ApiError(405, "ATLAS_BACKUP_CANCEL_SHARD_RESTORE_JOB_NOT_ALLOWED",
                           "Cannot cancel restore job %s of sharded cluster %s." % (job.id, cluster.name), parameters=[job.id])
        if job.is_terminal(ctx.now):
            raise ApiError(400, "RESTORE_JOB_CANNOT_BE_CANCELLED",
                           "Restore job %s has already finished and cannot be cancelled." % job.id, parameters=[job.id])
        job.force("cancelled", ctx.now)
        return 204, None

    def op_list_snapshots(self, ctx, cluster_api, cluster):
        snaps = cluster.snapshots
        if cluster_api.name == "dedicated":  # the snapshot closest before a point in time
            pit = _int_query(ctx.query, "pointInTimeUtcSeconds", None)
            oplog_ts = _int_query(ctx.query, "oplogTs", None)
            if pit is not None and (oplog_ts is not None or _int_query(ctx.query, "oplogInc", None) is not None):
                raise _query_error("pointInTimeUtcSeconds and oplogTs/oplogInc are mutually exclusive.", "pointInTimeUtcSeconds")
            when = pit if pit is not None else oplog_ts
            if when is not None:
                snaps = [s for s in snaps if s.status == "completed" and s.created <= when][-1:]
        elif cluster_api.name == "legacy":
            completed = (ctx.query.get("completed") or "true").lower()
            if completed not in ("all", "true", "false"):
                raise _query_error("completed must be all, true or false.", "completed")
            snaps = [s for s in snaps if s.status != "failed" and completed in ("all", str(s.status == "completed").lower())]
        return 200, self._paginate(ctx, self._ordered(snaps, "snapshots"), lambda s: cluster_api.render_snapshot(ctx.base, cluster, s))

    def op_get_snapshot(self, ctx, cluster_api, cluster):
        return 200, cluster_api.render_snapshot(ctx.base, cluster, self._snapshot(cluster, ctx.params["snapshotId"]))

    def op_list_sharded(self, ctx, _cluster_api, cluster):
        snaps = cluster.snapshots if cluster.sharded else []
        return 200, self._paginate(ctx, snaps, lambda s: views.sharded_snapshot(ctx.base, cluster, s), paged=False)

    def op_get_sharded(self, ctx, _cluster_api, cluster):
        snapshot_id = ctx.params["snapshotId"]
        if not cluster.sharded:
            raise _nf("RESOURCE_NOT_FOUND", "No sharded cluster snapshot with ID %s exists for cluster %s." % (snapshot_id, cluster.name))
        return 200, views.sharded_snapshot(ctx.base, cluster, self._snapshot(cluster, snapshot_id))

    # -- clusters, the backup schedule and on-demand snapshots -----------------------------------

    def op_list_clusters(self, ctx, cluster_api, _cluster):
        kinds = ("flex",) if cluster_api.name == "flex" else ("dedicated", "legacy")
        clusters = [c for c in self._project(ctx.params["groupId"]).clusters.values() if c.type in kinds]
        render = views.flex_cluster if cluster_api.name == "flex" else views.dedicated_cluster
        return 200, self._paginate(ctx, clusters, lambda c: render(ctx.base, c, ctx.now))

    def op_get_cluster(self, ctx, cluster_api, cluster):
        return 200, (views.flex_cluster if cluster_api and cluster_api.name == "flex" else views.dedicated_cluster)(ctx.base, cluster, ctx.now)

    def op_schedule(self, ctx, _cluster_api, cluster):
        return 200, views.backup_schedule(ctx.base, cluster, ctx.now)

    def op_take_snapshot(self, ctx, _cluster_api, cluster):
        body = _body(ctx, ("description", "retentionInDays"))
        description = _str(body, "description")
        retention = _int(body, "retentionInDays", 1) or 1
        if not cluster.backup_enabled or cluster.paused:
            code = "BACKUP_NOT_ENABLED" if not cluster.backup_enabled else "CANNOT_TAKE_SNAPSHOT_OF_PAUSED_CLUSTER"
            raise ApiError(400, code, "Cluster %s cannot take a snapshot now (%s)." % (cluster.name, code), parameters=[cluster.name])
        snap = Snapshot(ctx.now, snapshot_type="on_demand", description=description, mongod_version=cluster.mongodb_version,
                        expires=ctx.now + retention * 86400.0, members=len(cluster.shard_names) if cluster.sharded else 0,
                        ready_at=ctx.now + float(self.config["snapshot_seconds"]))
        cluster.add_snapshot(snap)
        return 200, views.dedicated_snapshot(ctx.base, cluster, snap)

    # -- creating restore jobs -------------------------------------------------------------------

    def _new_job(self, ctx, cluster, delivery_type, snap, target, target_group, conflicts=True, **fields):
        """Check the target (409 while a restore runs into it) and Atlas's restore rules; store the job."""
        if conflicts and target is not None and delivery_type != "download" and self.state.active_jobs_targeting(
                target_group, target.name, ctx.now, first_only=True):
            raise ApiError(409, "CLUSTER_RESTORE_IN_PROGRESS_CANNOT_UPDATE",
                           "Cannot start a restore to cluster %s in group %s: a restore to that cluster is already in progress."
                           % (target.name, target_group), parameters=[target.name, target_group])
        broken = broken_restore_rule(cluster, snap, target if delivery_type != "download" else None, delivery_type)
        if broken is None and target is not None and self._project(target_group).org_id != self._project(cluster.project_id).org_id:
            broken = ("CROSS_ORGANIZATION_RESTORE_NOT_ALLOWED",
                      "Restores into another organization are possible in the Atlas UI only, not through the API.")
        if broken is not None and self.config["restore_rule_failures"] == "refuse":
            raise ApiError(400, broken[0], broken[1], parameters=[cluster.name] + ([target.name] if target else []))
        duration = float(cluster.job_seconds if cluster.job_seconds is not None else self.config["job_seconds"])
        job = Job(cluster.type, cluster, delivery_type, duration=duration,
                  outcome="failed" if broken is not None else cluster.job_outcome or "completed")
        if snap is not None:
            job.snapshot_id, job.snapshot_time, job.snapshot_finished = snap.id, snap.created, snap.finished
        job.target_cluster_name = target.name if target is not None else None
        job.target_project_id = target_group if target is not None else None
        for name, value in fields.items():
            setattr(job, name, value)
        self.state.register_job(cluster, job)
        return job

    _CLOUD_FIELDS = ("deliveryType", "snapshotId", "targetClusterName", "targetGroupId", "pointInTimeUTCSeconds", "oplogTs",
                     "oplogInc")

    def op_create_dedicated(self, ctx, cluster_api, cluster):
        serverless = cluster_api.name == "serverless"
        body = _body(ctx, self._CLOUD_FIELDS)
        delivery = _str(body, "deliveryType", required=True)
        if delivery not in ("automated", "download", "pointInTime"):
            raise invalid("deliveryType", "must be automated, download or pointInTime")
        snapshot_id = _str(body, "snapshotId", HEX24)
        target_name = _str(body, "targetClusterName", CLUSTER_NAME, required=serverless)
        target_group = _str(body, "targetGroupId", HEX24, required=serverless)
        pit, oplog_ts, oplog_inc = _int(body, "pointInTimeUTCSeconds", MIN_EPOCH), _int(body, "oplogTs", MIN_EPOCH), _int(body, "oplogInc", 1)
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
            if (pit if pit is not None else oplog_ts) > int(ctx.now) + 5:
                raise invalid("pointInTimeUTCSeconds" if pit is not None else "oplogTs", "the point in time is in the future")
            snap = self._completed_snapshot(cluster, snapshot_id) if snapshot_id is not None else None
        if delivery == "download" and not serverless:
            if target_name is not None or target_group is not None:
                raise invalid("targetClusterName" if target_name is not None else "targetGroupId",
                              "must not be given for download restores")
        elif target_name is None or target_group is None:
            raise invalid("targetClusterName" if target_name is None else "targetGroupId",
                          "is required for %s restores" % delivery, "MISSING_ATTRIBUTE")
        target = self._target(target_group, target_name) if target_name is not None else None
        job = self._new_job(ctx, cluster, delivery, snap, target, target_group, pit_seconds=pit, oplog_ts=oplog_ts,
                            oplog_inc=oplog_inc, snapshot_id=snapshot_id)
        return 200, cluster_api.render_job(ctx.base, job, ctx.now)

    op_create_serverless = op_create_dedicated

    def op_create_flex(self, ctx, cluster_api, cluster):
        body = _body(ctx, ("snapshotId", "targetDeploymentItemName", "targetProjectId"))
        snapshot_id = _str(body, "snapshotId", HEX24, required=True)
        target_name = _str(body, "targetDeploymentItemName", _FLEX_TARGET, required=True)
        target_group = _str(body, "targetProjectId", HEX24) or cluster.project_id
        snap = self._completed_snapshot(cluster, snapshot_id)
        job = self._new_job(ctx, cluster, "automated", snap, self._target(target_group, target_name), target_group)
        return 200, cluster_api.render_job(ctx.base, job, ctx.now)

    def op_create_legacy(self, ctx, cluster_api, cluster):  # noqa: C901 - the legacy body has many forms
        body = _body(ctx, ("delivery", "snapshotId", "checkpointId", "oplogTs", "oplogInc", "pointInTimeUTCMillis"))
        delivery = body.get("delivery")
        if not isinstance(delivery, dict):
            raise invalid("delivery", "is required" if delivery is None else "must be an object",
                          "MISSING_ATTRIBUTE" if delivery is None else "INVALID_ATTRIBUTE")
        unknown = sorted(set(delivery) - {"methodName", "expirationHours", "maxDownloads", "targetClusterId",
                                          "targetClusterName", "targetGroupId"})
        if unknown:
            raise invalid("delivery." + unknown[0], "unknown or read-only attribute")
        method = _str(delivery, "methodName", required=True)
        if method not in ("AUTOMATED_RESTORE", "HTTP"):
            raise invalid("delivery.methodName", "the emulator supports AUTOMATED_RESTORE and HTTP only")
        target_id = _str(delivery, "targetClusterId", HEX24)
        target_name = _str(delivery, "targetClusterName", CLUSTER_NAME)
        target_group = _str(delivery, "targetGroupId", HEX24)
        snapshot_id = _str(body, "snapshotId", HEX24)
        if body.get("checkpointId") is not None:
            raise invalid("checkpointId", "checkpoint restores cannot be created through this endpoint")
        oplog_text, oplog_inc = _str(body, "oplogTs"), _int(body, "oplogInc", 1)
        millis = _int(body, "pointInTimeUTCMillis", MIN_EPOCH * 1000)
        forms = [name for name, value in (("snapshotId", snapshot_id), ("oplogTs", oplog_text),
                                          ("pointInTimeUTCMillis", millis)) if value is not None]
        if len(forms) != 1:
            raise invalid(forms[1] if len(forms) > 1 else "snapshotId",
                          "give exactly one of snapshotId, oplogTs with oplogInc, pointInTimeUTCMillis",
                          "INVALID_ATTRIBUTE" if forms else "MISSING_ATTRIBUTE")
        if oplog_text is not None:
            if oplog_inc is None:
                raise invalid("oplogInc", "is required with oplogTs", "MISSING_ATTRIBUTE")
            try:
                future = parse_time(oplog_text) > ctx.now + 5
            except ValueError:
                raise invalid("oplogTs", "must be an ISO 8601 timestamp") from None
            if future:
                raise invalid("oplogTs", "the point in time is in the future")
        elif oplog_inc is not None:
            raise invalid("oplogInc", "only allowed with oplogTs")
        if millis is not None and not ctx.now * 1000.0 - 86400000 <= millis <= ctx.now * 1000.0 + 5000:
            raise invalid("pointInTimeUTCMillis", "must lie within the last 24 hours")
        snap = self._completed_snapshot(cluster, snapshot_id) if snapshot_id is not None else None
        target = None
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
            target = self._target(target_group, target_name)
        elif target_group is not None or target_name is not None or target_id is not None:
            raise invalid("delivery.targetClusterName", "targets are only allowed with AUTOMATED_RESTORE")
        elif snap is None:
            raise invalid("snapshotId", "HTTP delivery needs a snapshotId", "MISSING_ATTRIBUTE")
        batch_id = new_id(ctx.now)
        jobs = []
        for shard in (cluster.shard_names if cluster.sharded else [None]):
            automated = method == "AUTOMATED_RESTORE"
            # legacy backup has no 409: several restores may run into one target
            jobs.append(self._new_job(ctx, cluster, "automated" if automated else "download", snap, target, target_group,
                                      conflicts=False, method_name=method,
                                      batch_id=batch_id, shard_name=shard, snapshot_id=snapshot_id, pit_millis=millis,
                                      oplog_ts_text=oplog_text, oplog_inc=oplog_inc, writes_target=automated,
                                      expiration_hours=_int(delivery, "expirationHours", 1),
                                      max_downloads=_int(delivery, "maxDownloads", 1)))
        return 200, self._paginate(ctx, jobs, lambda j: cluster_api.render_job(ctx.base, j, ctx.now), paged=False)


def _version(text):
    return tuple(int(part) for part in str(text).split(".")[:2])


def broken_restore_rule(source, snap, target, delivery):  # noqa: C901 - one branch per documented rule
    """(error code, detail) of the first restore rule Atlas documents that this restore breaks, or None."""
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
