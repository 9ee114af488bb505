"""Snapshots, restore jobs, clusters and schedules in the shapes real Atlas sends (README, "What Atlas sends")."""

from __future__ import annotations

import hashlib
import time

from .util import iso

SETTINGS = {}  # the app's config: expire_automated_after_seconds, flex_*_seconds, cluster_idle_seconds

_SNAPSHOT_STATUS = {"completed": "completed", "in_progress": "inProgress", "queued": "queued", "failed": "failed"}
_FLEX_SNAPSHOT_STATUS = {"completed": "COMPLETED", "in_progress": "RUNNING", "queued": "QUEUED", "failed": "FAILED"}
_SNAPSHOT_TYPE = {"scheduled": "scheduled", "on_demand": "onDemand", "fallback": "fallback"}
_LEGACY_STATUS = {"running": "IN_PROGRESS", "completed": "FINISHED", "failed": "BROKEN", "cancelled": "KILLED",
                  "expired": "FINISHED"}
_LEGACY_DELIVERY_STATUS = {"completed": "READY", "failed": "FAILED", "cancelled": "INTERRUPTED", "expired": "EXPIRED"}


def self_link(href):
    return [{"rel": "self", "href": href}]


def cluster_base(base, cluster):
    """The API prefix of one cluster for its cluster type."""
    segment = {"flex": "flexClusters", "serverless": "serverless"}.get(cluster.type, "clusters")
    return "%s/groups/%s/%s/%s" % (base, cluster.project_id, segment, cluster.name)


# -- snapshots ---------------------------------------------------------------------------------------------


def _cloud_snapshot(out, snap):
    """Cloud Backup snapshot fields: frequency, description, policy items; a queued or in-progress snapshot has no
    createdAt, cloudProvider or mongodVersion yet."""
    out.update({"id": snap.id, "createdAt": iso(snap.created), "expiresAt": iso(snap.expires),
                "status": _SNAPSHOT_STATUS[snap.status], "snapshotType": _SNAPSHOT_TYPE[snap.snapshot_type],
                "mongodVersion": snap.mongod_version, "storageSizeBytes": snap.size, "policyItems": [snap.policy_item]})
    if snap.frequency_type:
        out["frequencyType"] = snap.frequency_type
    if snap.description:
        out["description"] = snap.description
    if snap.status in ("queued", "in_progress"):
        for name in ("createdAt", "cloudProvider", "mongodVersion"):
            out.pop(name, None)
    return out


def dedicated_snapshot(base, cluster, snap):
    out = {"type": "shardedCluster" if cluster.sharded else "replicaSet", "cloudProvider": cluster.provider,
           "copyRegions": [], "links": self_link("%s/backup/snapshots/%s" % (cluster_base(base, cluster), snap.id))}
    if not cluster.sharded:
        out["replicaSetName"] = cluster.shard_names[0]
    return _cloud_snapshot(out, snap)


def sharded_snapshot(base, cluster, snap):
    members = [{"cloudProvider": cluster.provider, "id": member_id, "replicaSetName": name}
               for member_id, name in zip(snap.member_ids, cluster.shard_names)]
    return _cloud_snapshot({"type": "shardedCluster", "configServerType": cluster.config_server_type, "members": members,
                            "snapshotIds": [m["id"] for m in members],
                            "links": self_link("%s/backup/snapshots/shardedCluster/%s" % (cluster_base(base, cluster), snap.id))},
                           snap)


def serverless_snapshot(base, cluster, snap):
    out = {"id": snap.id, "createdAt": iso(snap.created), "expiresAt": iso(snap.expires), "status": _SNAPSHOT_STATUS[snap.status],
           "snapshotType": "onDemand" if snap.snapshot_type == "on_demand" else "scheduled",
           "serverlessInstanceName": cluster.name, "mongodVersion": snap.mongod_version, "storageSizeBytes": snap.size,
           "links": self_link("%s/backup/snapshots/%s" % (cluster_base(base, cluster), snap.id))}
    if snap.frequency_type in ("hourly", "daily", "weekly", "monthly"):
        out["frequencyType"] = snap.frequency_type
    return out


def flex_snapshot(base, cluster, snap):
    out = {"id": snap.id, "status": _FLEX_SNAPSHOT_STATUS[snap.status], "scheduledTime": iso(snap.created - 60.0),
           "expiration": iso(snap.expires), "mongoDBVersion": snap.mongod_version,
           "links": self_link("%s/backup/snapshots/%s" % (cluster_base(base, cluster), snap.id))}
    if snap.status != "queued":
        out["startTime"] = iso(snap.created)
    if snap.finished is not None:
        out["finishTime"] = iso(snap.finished)
    return out


def legacy_snapshot(base, cluster, snap):
    complete = snap.status == "completed"
    parts = []
    for index, name in enumerate(cluster.shard_names):
        config = cluster.sharded and index == len(cluster.shard_names) - 1
        part = {"typeName": "CONFIG_SERVER_REPLICA_SET" if config else "REPLICA_SET", "replicaSetName": name,
                "clusterId": cluster.id, "compressionSetting": "GZIP", "encryptionEnabled": False,
                "fcv": ".".join(snap.mongod_version.split(".")[:2]), "mongodVersion": snap.mongod_version,
                "dataSizeBytes": snap.size * 3, "fileSizeBytes": snap.size * 2, "storageSizeBytes": snap.size}
        if complete:
            part["completedTime"] = iso(snap.finished)
        parts.append(part)
    created = {"date": iso(snap.created), "increment": 1}
    return {"id": snap.id, "clusterId": cluster.id, "clusterName": cluster.name, "groupId": cluster.project_id,
            "complete": complete, "created": created, "lastOplogAppliedTimestamp": created, "doNotDelete": False,
            "expires": iso(snap.expires), "incremental": False, "parts": parts,
            "links": self_link("%s/snapshots/%s" % (cluster_base(base, cluster), snap.id))}


def render_snapshot(base, cluster, snap):
    from .api import CLUSTER_TYPE_APIS  # pylint: disable=import-outside-toplevel,cyclic-import
    return CLUSTER_TYPE_APIS[cluster.type].render_snapshot(base, cluster, snap)


# -- restore jobs ------------------------------------------------------------------------------------------


def _download_url(job):
    return "https://restore-%s.emulator.invalid/backup/%s/%s/restore-%s.tar.gz" % (
        job.id[-8:], job.cluster_name, job.snapshot_id or "pit", job.id)


def _cloud_job(base, job, now, with_components):
    state, finished, _fraction = job.phase(now)
    download = job.delivery_type == "download"
    expire_after = SETTINGS.get("expire_automated_after_seconds")
    finished_then_expired = state == "completed" and not download and expire_after is not None and now >= finished + expire_after
    if finished_then_expired:
        state = "expired"  # the configurable answer to an unknown: Atlas may mark old finished jobs expired (keeping finishedAt)
    path = "%s/groups/%s/%s/%s" % (base, job.project_id, "serverless" if job.cluster_type == "serverless" else "clusters",
                                   job.cluster_name)
    out = {"id": job.id, "deliveryType": job.delivery_type, "cancelled": state == "cancelled",
           "failed": state == "failed" or (download and state == "cancelled"),  # a cancelled download is failed too
           "expired": state == "expired", "deliveryUrl": [_download_url(job)] if download and state == "completed" else [],
           "expiresAt": iso(finished if state == "expired" else job.created + 48 * 3600.0),
           "desiredTimestamp": {"date": None, "increment": None, "time": None},
           "links": [{"rel": "self", "href": "%s/backup/restoreJobs/%s" % (path, job.id)},
                     {"rel": "https://cloud.mongodb.com/cluster", "href": path},
                     {"rel": "https://cloud.mongodb.com/snapshot", "href": "%s/backup/snapshots/%s" % (path, job.snapshot_id)},
                     {"rel": "https://cloud.mongodb.com/group", "href": "%s/groups/%s" % (base, job.project_id)}]}
    if (state == "completed" and not download) or (state == "cancelled" and download) or finished_then_expired:
        out["finishedAt"] = iso(finished)  # a ready download has its URL and expiresAt, and no finishedAt
    if job.snapshot_id:
        out["snapshotId"] = job.snapshot_id
    if job.target_cluster_name:
        out["targetClusterName"] = out["targetDeploymentItemName"] = job.target_cluster_name
    if job.target_project_id:
        out["targetGroupId"] = job.target_project_id
    when = job.pit_seconds if job.pit_seconds is not None else job.oplog_ts
    if job.pit_seconds is not None:
        out["pointInTimeUTCSeconds"] = job.pit_seconds
    elif job.oplog_ts is not None:
        out.update(oplogTs=job.oplog_ts, oplogInc=job.oplog_inc)
    if when is not None:
        out["timestamp"] = iso(when)
        out["desiredTimestamp"] = {"date": iso(when), "increment": job.oplog_inc or 1, "time": when}
    elif job.snapshot_time is not None:
        out["timestamp"] = iso(job.snapshot_time)
    if with_components and download and job.sharded and state == "completed":
        out["components"] = [{"replicaSetName": "shard-%d" % i, "downloadUrl": _download_url(job) + "?rs=%d" % i}
                             for i in range(3)]
    return out


def dedicated_job(base, job, now):
    return _cloud_job(base, job, now, True)


def serverless_job(base, job, now):
    return _cloud_job(base, job, now, False)


def flex_job(_base, job, now):
    state, finished, _fraction = job.phase(now)
    status = "COMPLETED" if state == "completed" else "FAILED" if state != "running" else "RUNNING"
    if state == "running" and job.forced is None:  # PENDING, QUEUED, RUNNING: a fifth of the run each unless configured
        pending, queued = (job.duration / 5.0 if SETTINGS.get(key) is None else float(SETTINGS[key])
                           for key in ("flex_pending_seconds", "flex_queued_seconds"))
        age = now - job.created
        status = "PENDING" if age < pending else "QUEUED" if age < pending + queued else "RUNNING"
    out = {"id": job.id, "snapshotId": job.snapshot_id, "targetDeploymentItemName": job.target_cluster_name,  # no links
           "targetProjectId": job.target_project_id, "projectId": job.project_id, "instanceName": job.cluster_name,
           "deliveryType": "RESTORE", "status": status, "restoreScheduledDate": iso(job.created),
           "expirationDate": iso(job.created + 7 * 86400.0)}
    if job.snapshot_finished is not None:
        out["snapshotFinishedDate"] = iso(job.snapshot_finished)
    if state != "running":
        out["restoreFinishedDate"] = iso(finished)
    return out


def legacy_job(base, job, now):
    state, _finished, fraction = job.phase(now)
    if state == "running":
        delivery_status = "NOT_STARTED" if fraction < 0.2 and job.forced is None else "IN_PROGRESS"
    else:
        delivery_status = _LEGACY_DELIVERY_STATUS[state]
    delivery = {"methodName": "HTTP", "statusName": delivery_status}
    automated = job.method_name == "AUTOMATED_RESTORE"
    if automated:
        delivery.update(targetClusterName=job.target_cluster_name, targetGroupId=job.target_project_id)
    else:
        hours = job.expiration_hours or 48
        delivery.update(expirationHours=hours, maxDownloads=job.max_downloads or 1, expires=iso(job.created + hours * 3600.0))
        if delivery_status == "READY":
            delivery["url"] = delivery["urlV2"] = _download_url(job)
    out = {"id": job.id, "batchId": job.batch_id or job.id, "clusterId": job.cluster_id, "clusterName": job.cluster_name,
           "groupId": job.project_id, "created": iso(job.created), "delivery": delivery, "encryptionEnabled": False,
           "statusName": _LEGACY_STATUS[state],
           "links": self_link("%s/groups/%s/clusters/%s/restoreJobs/%s" % (base, job.project_id, job.cluster_name, job.id))}
    if job.snapshot_id:
        out["snapshotId"] = job.snapshot_id
        if job.snapshot_time is not None:
            out["timestamp"] = {"date": iso(job.snapshot_time), "increment": 1}
    elif job.pit_millis is not None:
        out["timestamp"] = {"date": iso(job.pit_millis / 1000.0), "increment": 1}
    if state == "completed" and not automated:
        digest = hashlib.sha1(job.id.encode("ascii")).hexdigest()  # nosec B324 - a fake file hash
        out["hashes"] = [{"fileName": "%s.tar.gz" % (job.shard_name or job.cluster_name), "hash": digest, "typeName": "SHA1"}]
    return out


def render_job(base, job, now=None):
    from .api import CLUSTER_TYPE_APIS  # pylint: disable=import-outside-toplevel,cyclic-import
    return CLUSTER_TYPE_APIS[job.cluster_type].render_job(base, job, time.time() if now is None else now)


# -- clusters and the backup schedule ----------------------------------------------------------------------


def _state_name(cluster, now):
    return cluster.state_name(now, float(SETTINGS.get("cluster_idle_seconds") or 0.0))


def dedicated_cluster(base, cluster, now):
    major = ".".join(cluster.mongodb_version.split(".")[:2])
    region = {"providerName": cluster.provider, "regionName": cluster.region, "priority": 7,
              "electableSpecs": {"instanceSize": "M30", "nodeCount": 3}}
    out = {"id": cluster.id, "name": cluster.name, "groupId": cluster.project_id,
           "clusterType": "SHARDED" if cluster.sharded else "REPLICASET", "mongoDBMajorVersion": major,
           "mongoDBVersion": cluster.mongodb_version, "featureCompatibilityVersion": cluster.fcv or major,
           "stateName": _state_name(cluster, now), "paused": cluster.paused, "backupEnabled": cluster.backup_enabled,
           "pitEnabled": cluster.pit_enabled, "encryptionAtRestProvider": cluster.encryption_provider,
           "databaseEdition": cluster.database_edition,  # 2026 preview, not in the spec (an allowed extra)
           "createDate": iso(cluster.created),
           "replicationSpecs": [{"id": "%s%04x" % (cluster.id[:20], i), "zoneName": "Zone 1", "regionConfigs": [dict(region)]}
                                for i in range(cluster.shards)],
           "links": self_link(cluster_base(base, cluster))}
    if cluster.sharded:
        out["configServerType"] = cluster.config_server_type
    return out


def flex_cluster(base, cluster, now):
    return {"id": cluster.id, "name": cluster.name, "groupId": cluster.project_id, "clusterType": "REPLICASET",
            "mongoDBVersion": cluster.mongodb_version, "stateName": _state_name(cluster, now),
            "backupSettings": {"enabled": cluster.backup_enabled},
            "providerSettings": {"providerName": "FLEX", "backingProviderName": cluster.provider, "regionName": cluster.region},
            "createDate": iso(cluster.created), "links": self_link(cluster_base(base, cluster))}


def backup_schedule(base, cluster, now):
    item = {"retentionUnit": "days", "retentionValue": 7}
    return {"clusterId": cluster.id, "clusterName": cluster.name, "autoExportEnabled": False, "copySettings": [],
            "nextSnapshot": iso(now - now % 21600 + 21600), "referenceHourOfDay": 0, "referenceMinuteOfHour": 0,
            "restoreWindowDays": cluster.restore_window_days, "useOrgAndGroupNamesInExportPrefix": False,
            "policies": [{"id": cluster.id, "policyItems": [
                dict(item, id=cluster.id[:20] + "0001", frequencyType="hourly", frequencyInterval=6),
                dict(item, id=cluster.id[:20] + "0002", frequencyType="daily", frequencyInterval=1)]}],
            "links": self_link("%s/backup/schedule" % cluster_base(base, cluster))}
