#!/usr/bin/python3
"""A FAKE Kubernetes API server for adpart-update's tests.

This is not Kubernetes. It implements, over HTTPS with bearer-token or
client-certificate authentication, the part of the API that the
kubernetes driver uses, with the semantics documented in the Kubernetes
API reference, plus a few lines of "kubelet", "scheduler" and "job
controller" behaviour so that pods become Ready and Jobs finish. What it
covers is listed in adpart-update(1), section KUBERNETES, and in
tests/fake-kube/README.

Standard library only (http.server, json, ssl). Single-threaded: one
request at a time, which the driver never exceeds.

Requests are served one at a time (a lock around the state), on as many
connections as clients open, keep-alive included.

Usage: fake_kube.py --cluster FILE --cert F --key F --token-file F
                    --port-file F [--client-ca F] [--dump F] [--log F]
"""

import argparse
import copy
import datetime
import http.server
import json
import os
import re
import ssl
import sys
import threading
import time
import urllib.parse
import uuid

STATE = {}
ARGS = None
RV = [1000]
LOCK = threading.Lock()

KINDS = {
    # collection -> (group path, kind, namespaced)
    "nodes": ("/api/v1", "Node", False),
    "pods": ("/api/v1", "Pod", True),
    "deployments": ("/apis/apps/v1", "Deployment", True),
    "statefulsets": ("/apis/apps/v1", "StatefulSet", True),
    "daemonsets": ("/apis/apps/v1", "DaemonSet", True),
    "replicasets": ("/apis/apps/v1", "ReplicaSet", True),
    "poddisruptionbudgets": ("/apis/policy/v1", "PodDisruptionBudget", True),
    "jobs": ("/apis/batch/v1", "Job", True),
    "leases": ("/apis/coordination.k8s.io/v1", "Lease", True),
}
API_VERSION = {"/api/v1": "v1", "/apis/apps/v1": "apps/v1", "/apis/policy/v1": "policy/v1",
               "/apis/batch/v1": "batch/v1", "/apis/coordination.k8s.io/v1": "coordination.k8s.io/v1"}


def now_ms():
    return int(time.time() * 1000)


def stamp():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def next_rv():
    RV[0] += 1
    return str(RV[0])


def beh(key, default):
    return STATE.get("behaviour", {}).get(key, default)


def status_obj(code, reason, message, details=None):
    s = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
         "message": message, "reason": reason, "code": code}
    if details:
        s["details"] = details
    return s


def meta(o):
    return o.setdefault("metadata", {})


def find(coll, ns, name):
    for o in STATE.get(coll, []):
        m = meta(o)
        if m.get("name") == name and (ns is None or m.get("namespace", "default") == ns):
            return o
    return None


def prepare(coll, o, ns):
    m = meta(o)
    m.setdefault("uid", str(uuid.uuid4()))
    m["resourceVersion"] = next_rv()
    m.setdefault("creationTimestamp", stamp())
    if KINDS[coll][2]:
        m["namespace"] = ns or m.get("namespace", "default")
    o.pop("kind", None)
    o.pop("apiVersion", None)
    return o


def labels_match(sel, labels):
    """A LabelSelector (matchLabels and matchExpressions)."""
    if sel is None:
        return False
    for k, v in (sel.get("matchLabels") or {}).items():
        if labels.get(k) != v:
            return False
    for e in sel.get("matchExpressions") or []:
        k, op, vals = e.get("key"), e.get("operator"), e.get("values") or []
        if op == "In" and labels.get(k) not in vals:
            return False
        if op == "NotIn" and labels.get(k) in vals:
            return False
        if op == "Exists" and k not in labels:
            return False
        if op == "DoesNotExist" and k in labels:
            return False
    return True


def query_selector(q, labels):
    """labelSelector query parameter: k=v, k!=v, k, !k, comma-separated."""
    for term in filter(None, q.split(",")):
        if "!=" in term:
            k, v = term.split("!=", 1)
            if labels.get(k) == v:
                return False
        elif "==" in term or "=" in term:
            k, v = re.split("==?", term, 1)
            if labels.get(k) != v:
                return False
        elif term.startswith("!"):
            if term[1:] in labels:
                return False
        elif term not in labels:
            return False
    return True


def field_selector(q, o):
    for term in filter(None, q.split(",")):
        neg = "!=" in term
        k, v = re.split("!=|==?", term, 1)
        cur = o
        for part in k.split("."):
            cur = cur.get(part) if isinstance(cur, dict) else None
        cur = "" if cur is None else str(cur)
        if (cur == v) == neg:
            return False
    return True


# --- the "kubelet", "scheduler" and "job controller" ---------------------

def node_ready(node):
    for c in node.get("status", {}).get("conditions", []):
        if c.get("type") == "Ready":
            return c.get("status") == "True"
    return False


def set_node_ready(node, ready):
    conds = node.setdefault("status", {}).setdefault("conditions", [])
    for c in conds:
        if c.get("type") == "Ready":
            c["status"] = "True" if ready else "False"
            c["reason"] = "KubeletReady" if ready else "KubeletNotReady"
            break
    else:
        conds.append({"type": "Ready", "status": "True" if ready else "False"})
    meta(node)["resourceVersion"] = next_rv()


def affinity_node(spec):
    if spec.get("nodeName"):
        return spec["nodeName"]
    terms = (((spec.get("affinity") or {}).get("nodeAffinity") or {})
             .get("requiredDuringSchedulingIgnoredDuringExecution") or {}).get("nodeSelectorTerms") or []
    for t in terms:
        for f in t.get("matchFields") or []:
            if f.get("key") == "metadata.name" and f.get("operator") == "In" and len(f.get("values", [])) == 1:
                return f["values"][0]
    host = (spec.get("nodeSelector") or {}).get("kubernetes.io/hostname")
    return host


def tolerates_unschedulable(spec):
    for t in spec.get("tolerations") or []:
        if t.get("operator") == "Exists" and not t.get("key"):
            return True
        if t.get("key") == "node.kubernetes.io/unschedulable":
            return True
    return False


def set_pod_ready(pod, ready):
    st = pod.setdefault("status", {})
    st["phase"] = "Running"
    conds = [c for c in st.get("conditions", []) if c.get("type") != "Ready"]
    conds.append({"type": "Ready", "status": "True" if ready else "False"})
    st["conditions"] = conds


def pod_ready(pod):
    for c in pod.get("status", {}).get("conditions", []):
        if c.get("type") == "Ready":
            return c.get("status") == "True"
    return False


def pick_node(spec):
    """The scheduler's choice for a pod without a node affinity: the Ready,
    schedulable node running the fewest pods (by name on a tie)."""
    best = None
    for n in sorted(STATE.get("nodes", []), key=lambda n: meta(n)["name"]):
        if not node_ready(n) or (n.get("spec", {}).get("unschedulable") and not tolerates_unschedulable(spec)):
            continue
        load = sum(1 for p in STATE.get("pods", []) if p.get("spec", {}).get("nodeName") == meta(n)["name"])
        if best is None or load < best[0]:
            best = (load, meta(n)["name"])
    return best[1] if best else None


def schedule(pod):
    spec = pod.setdefault("spec", {})
    want = affinity_node(spec) or pick_node(spec)
    node = find("nodes", None, want) if want else None
    st = pod.setdefault("status", {})
    if not node or (node.get("spec", {}).get("unschedulable") and not tolerates_unschedulable(spec)
                    and not spec.get("nodeName")):
        st["phase"] = "Pending"
        st["conditions"] = [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                             "message": "0/%d nodes are available" % len(STATE.get("nodes", []))}]
        return
    spec["nodeName"] = meta(node)["name"]
    st["phase"] = "Pending"
    st["conditions"] = [{"type": "PodScheduled", "status": "True"}]
    pod["_ready_at"] = now_ms() + int(beh("ready_after_ms", 200))


def owned_by(pod, kind, name):
    for r in meta(pod).get("ownerReferences") or []:
        if r.get("controller") and r.get("kind") == kind and r.get("name") == name:
            return True
    return False


def new_pod(ns, name, tmpl, labels, kind, owner):
    pod = {"metadata": {"name": name, "namespace": ns, "labels": labels,
                        "ownerReferences": [{"apiVersion": "apps/v1", "kind": kind, "name": owner,
                                             "uid": "u-" + owner, "controller": True}]},
           "spec": copy.deepcopy(tmpl.get("spec", {}))}
    prepare("pods", pod, ns)
    STATE.setdefault("pods", []).append(pod)
    schedule(pod)


def rs_of(rs, deployment):
    """Whether ReplicaSet rs ("<deployment>-<pod-template-hash>") is the
    Deployment's."""
    return rs.startswith(deployment + "-") and "-" not in rs[len(deployment) + 1:]


def workload_status(coll, wl):
    """status.replicas and readyReplicas from the pods the workload's
    controller owns (shadows, owned by nobody, are not counted)."""
    ns, name = meta(wl).get("namespace", "default"), meta(wl)["name"]
    mine = []
    for p in STATE.get("pods", []):
        if meta(p).get("namespace", "default") != ns or meta(p).get("deletionTimestamp"):
            continue
        for r in meta(p).get("ownerReferences") or []:
            if r.get("controller") and ((coll == "statefulsets" and r.get("kind") == "StatefulSet" and r.get("name") == name)
                                        or (coll == "deployments" and r.get("kind") == "ReplicaSet"
                                            and rs_of(r.get("name", ""), name))):
                mine.append(p)
    wl["status"] = {"replicas": len(mine), "readyReplicas": sum(1 for p in mine if pod_ready(p)),
                    "observedGeneration": meta(wl).get("generation", 1)}


def controllers():
    """The ReplicaSet and StatefulSet controllers, reduced to what a drain
    sees: an evicted pod is replaced (a Deployment's by a new name, a
    StatefulSet's by the same name once the old one is gone)."""
    for d in STATE.get("deployments", []):
        ns, name = meta(d).get("namespace", "default"), meta(d)["name"]
        rs = None
        for p in STATE.get("pods", []):
            for r in meta(p).get("ownerReferences") or []:
                if r.get("kind") == "ReplicaSet" and rs_of(r.get("name", ""), name) \
                        and meta(p).get("namespace", "default") == ns:
                    rs = r["name"]
        if rs is None:
            continue
        live = [p for p in STATE.get("pods", []) if owned_by(p, "ReplicaSet", rs)
                and not meta(p).get("deletionTimestamp")]
        tmpl = d["spec"]["template"]
        for _ in range(d["spec"].get("replicas", 1) - len(live)):
            labels = dict(tmpl.get("metadata", {}).get("labels", {}), **{"pod-template-hash": rs[len(name) + 1:]})
            new_pod(ns, "%s-%s" % (rs, uuid.uuid4().hex[:5]), tmpl, labels, "ReplicaSet", rs)
    for st in STATE.get("statefulsets", []):
        ns, name = meta(st).get("namespace", "default"), meta(st)["name"]
        tmpl = st["spec"]["template"]
        for i in range(st["spec"].get("replicas", 1)):
            pname = "%s-%d" % (name, i)
            if find("pods", ns, pname) is None:
                labels = dict(tmpl.get("metadata", {}).get("labels", {}),
                              **{"statefulset.kubernetes.io/pod-name": pname})
                new_pod(ns, pname, tmpl, labels, "StatefulSet", name)


# Watch: every change of a pod, as (resourceVersion, type, object), found
# by comparing the pods after each request and tick with the last look.
EVENTS = []
SEEN = {}
COMPACTED = [0]  # events at or below this resourceVersion are gone (410)


def pod_out(pod):
    return {k: v for k, v in pod.items() if not k.startswith("_")}


def record_events():
    now = {}
    for p in STATE.get("pods", []):
        m = meta(p)
        now[m["uid"]] = (m["resourceVersion"], p)
    for uid, (rv, p) in now.items():
        if uid not in SEEN:
            EVENTS.append((int(rv), "ADDED", copy.deepcopy(pod_out(p))))
        elif SEEN[uid][0] != rv:
            EVENTS.append((int(rv), "MODIFIED", copy.deepcopy(pod_out(p))))
    for uid, (rv, p) in SEEN.items():
        if uid not in now:
            gone = copy.deepcopy(pod_out(p))
            meta(gone)["resourceVersion"] = next_rv()
            EVENTS.append((int(meta(gone)["resourceVersion"]), "DELETED", gone))
    SEEN.clear()
    SEEN.update({uid: (rv, p) for uid, (rv, p) in now.items()})
    EVENTS.sort(key=lambda e: e[0])
    if len(EVENTS) > 2000:
        COMPACTED[0] = EVENTS[-2001][0]
        del EVENTS[:-2000]


def tick():
    t = now_ms()
    for pod in list(STATE.get("pods", [])):
        m = meta(pod)
        if m.get("deletionTimestamp"):
            if t >= pod.get("_gone_at", 0):
                STATE["pods"].remove(pod)
            continue
        node = find("nodes", None, pod.get("spec", {}).get("nodeName") or "")
        if "_ready_at" in pod and node is not None and t >= pod["_ready_at"]:
            if node_ready(node) != pod_ready(pod):
                set_pod_ready(pod, node_ready(node))
                m["resourceVersion"] = next_rv()
    for job in STATE.get("jobs", []):
        st = job.setdefault("status", {})
        if st.get("succeeded") or st.get("failed") or t < job.get("_done_at", 0):
            continue
        node = affinity_node(job["spec"]["template"].get("spec", {}))
        if node in beh("job_fail_nodes", []):
            st["failed"] = job["spec"].get("backoffLimit", 6) + 1
            st["conditions"] = [{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded"}]
        else:
            st["succeeded"] = 1
            st["conditions"] = [{"type": "Complete", "status": "True"}]
            n = find("nodes", None, node)
            if n is not None and node in beh("not_ready_after_update", []):
                set_node_ready(n, False)
        meta(job)["resourceVersion"] = next_rv()
    controllers()
    for pdb in STATE.get("poddisruptionbudgets", []):
        pdb_status(pdb)


def pdb_status(pdb):
    ns = meta(pdb).get("namespace", "default")
    spec = pdb.get("spec", {})
    pods = [p for p in STATE.get("pods", []) if meta(p).get("namespace", "default") == ns
            and not meta(p).get("deletionTimestamp")
            and labels_match(spec.get("selector"), meta(p).get("labels", {}))]
    expected = len(pods)
    healthy = sum(1 for p in pods if pod_ready(p))

    def scaled(v):
        if isinstance(v, str) and v.endswith("%"):
            return -(-int(v[:-1]) * expected // 100)
        return int(v)
    if spec.get("maxUnavailable") is not None:
        desired = max(0, expected - scaled(spec["maxUnavailable"]))
    elif spec.get("minAvailable") is not None:
        desired = scaled(spec["minAvailable"])
    else:
        # Neither: the disruption controller asks for no healthy pod.
        desired = 0
    old = pdb.get("status", {})
    pdb["status"] = {"currentHealthy": healthy, "desiredHealthy": desired, "expectedPods": expected,
                     "disruptionsAllowed": max(0, healthy - desired),
                     "observedGeneration": meta(pdb).get("generation", 1)}
    if old != pdb["status"]:
        meta(pdb)["resourceVersion"] = next_rv()


def delete_pod(pod, grace=None, via="delete"):
    """Graceful deletion: deletionTimestamp (and deletionGracePeriodSeconds
    when DeleteOptions.gracePeriodSeconds was given) now, the pod gone
    after behaviour.termination_ms, or sooner when the grace period is
    shorter (0: at once). Each deletion is logged as
    "REMOVE ns/name via=eviction|delete grace=N|default"."""
    if not meta(pod).get("deletionTimestamp"):
        meta(pod)["deletionTimestamp"] = stamp()
        meta(pod)["resourceVersion"] = next_rv()
        ms = int(beh("termination_ms", 200))
        if grace is not None:
            meta(pod)["deletionGracePeriodSeconds"] = grace
            ms = min(ms, grace * 1000)
        pod["_gone_at"] = now_ms() + ms
        if ARGS and ARGS.log:
            with open(ARGS.log, "a") as f:
                f.write("REMOVE %s/%s via=%s grace=%s\n" % (meta(pod).get("namespace", "default"), meta(pod)["name"],
                                                           via, "default" if grace is None else grace))


def grace_of(opts, q):
    """DeleteOptions.gracePeriodSeconds from a body or the query: None
    (the pod's own), or a whole number of seconds; ValueError if bad."""
    g = (opts or {}).get("gracePeriodSeconds") if isinstance(opts, dict) else None
    if g is None and "gracePeriodSeconds" in q:
        g = q["gracePeriodSeconds"]
    if g is None:
        return None
    g = int(g)
    if g < 0:
        raise ValueError("gracePeriodSeconds must be >= 0")
    return g


def dry_of(opts, q):
    """dryRun=All (query) or dryRun: ["All"] (DeleteOptions): True;
    absent: False; anything else: ValueError, as the API server answers
    400 for an unsupported value."""
    vals = []
    if "dryRun" in q:
        vals.append(q["dryRun"])
    if isinstance(opts, dict) and opts.get("dryRun") is not None:
        vals += opts["dryRun"] if isinstance(opts["dryRun"], list) else [opts["dryRun"]]
    for v in vals:
        if v != "All":
            raise ValueError('dryRun: Unsupported value: "%s": supported values: "All"' % v)
    return bool(vals)


# --- in-place resize ------------------------------------------------------

SUFFIX = {"m": 1e-3, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "Ki": 1024.0, "Mi": 1024.0 ** 2,
          "Gi": 1024.0 ** 3, "Ti": 1024.0 ** 4}


def quantity(q):
    m = re.fullmatch(r"([0-9.]+)(m|k|M|G|T|Ki|Mi|Gi|Ti)?", str(q))
    if not m:
        raise ValueError("bad quantity %r" % q)
    return float(m.group(1)) * SUFFIX.get(m.group(2) or "", 1.0)


def pod_requests(pod):
    tot = {"cpu": 0.0, "memory": 0.0}
    for c in pod.get("spec", {}).get("containers", []):
        for r in tot:
            v = c.get("resources", {}).get("requests", {}).get(r)
            if v is not None:
                tot[r] += quantity(v)
    return tot


def actuate_resize(pod):
    """The kubelet's side of a resize (Kubernetes 1.33+): PodResizePending
    with reason Infeasible when the pod's new requests exceed the node's
    allocatable, Deferred when they exceed what the other pods leave free
    now, else the containers' actual resources (status.containerStatuses
    [*].resources) take the spec's and status.observedGeneration catches
    up with metadata.generation. behaviour.resize_in_progress_polls leaves
    PodResizeInProgress on for that many GETs first."""
    st = pod.setdefault("status", {})
    node = find("nodes", None, pod.get("spec", {}).get("nodeName", ""))
    alloc = (node or {}).get("status", {}).get("allocatable", {})
    want = pod_requests(pod)
    others = {"cpu": 0.0, "memory": 0.0}
    for p in STATE.get("pods", []):
        if p is not pod and p.get("spec", {}).get("nodeName") == pod.get("spec", {}).get("nodeName") \
                and not meta(p).get("deletionTimestamp"):
            for r, v in pod_requests(p).items():
                others[r] += v
    conds = [c for c in st.get("conditions", []) if c.get("type") not in ("PodResizePending", "PodResizeInProgress")]
    for r in ("cpu", "memory"):
        cap = quantity(alloc[r]) if r in alloc else None
        if cap is not None and want[r] > cap:
            conds.append({"type": "PodResizePending", "status": "True", "reason": "Infeasible",
                          "message": "Node didn't have enough capacity: %s, requested: %g, capacity: %g"
                          % (r, want[r], cap)})
            break
        if cap is not None and want[r] + others[r] > cap:
            conds.append({"type": "PodResizePending", "status": "True", "reason": "Deferred",
                          "message": "Node didn't have enough resource: %s, requested: %g, used: %g, capacity: %g"
                          % (r, want[r], others[r], cap)})
            break
    else:
        if pod.get("_in_progress", 0) > 0:
            conds.append({"type": "PodResizeInProgress", "status": "True"})
        else:
            st["containerStatuses"] = [
                dict([(k, v) for k, v in cs.items() if k != "resources"],
                     resources=copy.deepcopy(c.get("resources", {})))
                for c in pod["spec"].get("containers", [])
                for cs in (next((x for x in st.get("containerStatuses", []) if x.get("name") == c.get("name")),
                                {"name": c.get("name"), "ready": True}),)]
            st["observedGeneration"] = meta(pod).get("generation", 1)
    st["conditions"] = conds


# --- patches -------------------------------------------------------------

MERGE_KEYS = {"containers": "name", "initContainers": "name", "env": "name", "volumes": "name",
              "volumeMounts": "mountPath", "conditions": "type", "tolerations": None}


def _merge(target, patch, keys, key=None):
    """Merges patch into target: objects key by key (null deletes); a
    list whose field has a merge key in keys merges element-wise by it,
    any other list is replaced."""
    if isinstance(patch, list):
        mk = keys.get(key)
        if mk is None or not isinstance(target, list):
            return copy.deepcopy(patch)
        out = copy.deepcopy(target)
        for item in patch:
            for i, cur in enumerate(out):
                if isinstance(cur, dict) and cur.get(mk) == item.get(mk):
                    out[i] = _merge(cur, item, keys)
                    break
            else:
                out.append(copy.deepcopy(item))
        return out
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if not isinstance(target, dict):
        target = {}
    for k, v in patch.items():
        if v is None:
            target.pop(k, None)
        else:
            target[k] = _merge(target.get(k), v, keys, k)
    return target


def merge_patch(target, patch):
    """RFC 7386 JSON merge patch: every list is replaced."""
    return _merge(target, patch, {})


def strategic_merge(target, patch):
    """Strategic merge patch for the lists the driver touches: lists with a
    patchMergeKey (containers by name, ...) merge element-wise; others
    are replaced; null deletes."""
    return _merge(target, patch, MERGE_KEYS)


# --- coordination.k8s.io/v1 Leases ------------------------------------------

MICROTIME = re.compile(r"^(\d{4})-(\d\d)-(\d\d)[Tt](\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?([Zz]|[+-]\d\d:\d\d)$")


def microtime(v):
    """A MicroTime as the API server stores it: RFC 3339 in UTC with
    microseconds ("2006-01-02T15:04:05.000000Z"); ValueError if it is not
    RFC 3339."""
    m = MICROTIME.match(v) if isinstance(v, str) else None
    if not m:
        raise ValueError("%r is not an RFC 3339 time" % (v,))
    frac = int((m.group(7) or "0")[:6].ljust(6, "0"))
    zone = m.group(8).upper()
    tz = datetime.timezone.utc if zone == "Z" else datetime.timezone(
        (1 if zone[0] == "+" else -1) * datetime.timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6])))
    t = datetime.datetime(*[int(m.group(i)) for i in range(1, 7)], frac, tzinfo=tz)
    return t.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def lease_invalid(o):
    """ValidateLease: the spec's fields typed as the API declares them,
    leaseDurationSeconds > 0 and leaseTransitions >= 0 when set, the
    MicroTimes normalised. The message of a 422, or None."""
    spec = o.get("spec")
    if spec is None:
        return None
    if not isinstance(spec, dict):
        return "spec: Invalid value: expected an object"
    if "holderIdentity" in spec and not isinstance(spec["holderIdentity"], str):
        return "spec.holderIdentity: Invalid value: expected a string"
    for f, low in (("leaseDurationSeconds", 1), ("leaseTransitions", 0)):
        v = spec.get(f)
        if v is not None and (not isinstance(v, int) or isinstance(v, bool) or v < low or v > 2 ** 31 - 1):
            return "spec.%s: Invalid value: %s: must be %s" % (f, json.dumps(v), "greater than 0" if low else
                                                                "greater than or equal to 0")
    for f in ("acquireTime", "renewTime"):
        if spec.get(f) is not None:
            try:
                spec[f] = microtime(spec[f])
            except ValueError as e:
                return "spec.%s: Invalid value: %s" % (f, e)
    return None


def precondition_failed(obj, opts):
    """DeleteOptions.preconditions (uid, resourceVersion) that the object
    does not meet: the message of a 409 Conflict, or None."""
    pre = (opts or {}).get("preconditions") if isinstance(opts, dict) else None
    for f, what in (("uid", "UID"), ("resourceVersion", "ResourceVersion")):
        want = (pre or {}).get(f)
        if want is not None and want != meta(obj).get(f):
            return ("the %s in the precondition (%s) does not match the %s in record (%s). The object might "
                    "have been modified" % (what, want, what, meta(obj).get(f)))
    return None


# --- RBAC ----------------------------------------------------------------

RULES = None


def load_rbac(path):
    """The rules of a ClusterRole written one field per line with JSON
    lists (as deploy/kubernetes/clusterrole.yaml is), up to the first
    document separator."""
    rules, cur = [], None
    with open(path) as f:
        for line in f:
            if line.startswith("---"):
                break
            m = re.match(r"^(- |  )(apiGroups|resources|verbs): (\[.*\])\s*$", line)
            if not m:
                continue
            if m.group(1) == "- ":
                cur = {}
                rules.append(cur)
            cur[m.group(2)] = json.loads(m.group(3))
    return rules


def allowed(group, resource, verb):
    if RULES is None:
        return True
    for r in RULES:
        if group in r.get("apiGroups", []) and resource in r.get("resources", []) and verb in r.get("verbs", []):
            return True
    return False


# --- HTTP ------------------------------------------------------------------

ROUTE = re.compile(r"^(?P<group>/api/v1|/apis/[a-z0-9.]+/v1)(?:/namespaces/(?P<ns>[a-z0-9-]+))?"
                   r"/(?P<coll>[a-z]+)(?:/(?P<name>[a-z0-9.-]+))?(?:/(?P<sub>[a-z]+))?$")


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def send(self, code, obj):
        body = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        if ARGS.log:
            with open(ARGS.log, "a") as f:
                f.write("%s %s %d\n" % (self.command, self.path, code))

    def authorised(self):
        """The bearer token is the driver's service account (RBAC rules
        apply); a client certificate signed by the CA is an administrator
        (system:masters, no RBAC), as the tests' own kubectl-like calls."""
        self.admin = False
        try:
            self.admin = bool(self.connection.getpeercert())
        except (AttributeError, ValueError):
            pass
        return self.admin or self.headers.get("Authorization", "") == "Bearer " + TOKEN

    def read_body(self):
        """Reads the whole request body first, whatever the answer, so a
        kept-alive connection stays in step."""
        n = int(self.headers.get("Content-Length") or 0)
        self.raw = self.rfile.read(n) if 0 < n <= 4 << 20 else b""
        if n > 4 << 20:
            self.close_connection = True

    def body(self):
        try:
            return json.loads(self.raw) if self.raw else None
        except ValueError:
            return None

    def handle_any(self):
        u = urllib.parse.urlsplit(self.path)
        q = dict(urllib.parse.parse_qsl(u.query))
        if u.path in ("/api/v1/query_range", "/api/v1/query"):
            return self.prometheus(u.path)
        if not self.authorised():
            return self.send(401, status_obj(401, "Unauthorized", "Unauthorized"))
        tick()
        if self.command == "GET" and STATE.get("behaviour", {}).get("unavailable_gets", 0) > 0:
            # An overloaded or restarting API server.
            STATE["behaviour"]["unavailable_gets"] -= 1
            return self.send(503, status_obj(503, "ServiceUnavailable", "the server is currently unable to handle the request"))
        m = ROUTE.match(u.path)
        if not m or m.group("coll") not in KINDS or KINDS[m.group("coll")][0] != m.group("group"):
            return self.send(404, status_obj(404, "NotFound", "the server could not find the requested resource"))
        coll, ns, name, sub = m.group("coll"), m.group("ns"), m.group("name"), m.group("sub")
        group, kind, namespaced = KINDS[coll]
        if namespaced and name and not ns:
            return self.send(404, status_obj(404, "NotFound", "the server could not find the requested resource"))
        method = self.command
        try:
            self.dry = method in ("POST", "PATCH", "DELETE", "PUT") and dry_of(
                self.body() if method == "DELETE" else None, q)
        except ValueError as e:
            return self.send(400, status_obj(400, "BadRequest", str(e)))
        verb = {"GET": "get" if name else ("watch" if q.get("watch") in ("1", "true") else "list"),
                "POST": "create", "PATCH": "patch", "DELETE": "delete", "PUT": "update"}.get(method, "")
        api_group = "" if group == "/api/v1" else group.split("/")[2]
        resource = coll + ("/" + sub if sub else "")
        if not self.admin and not allowed(api_group, resource, verb):
            return self.send(403, status_obj(403, "Forbidden", '%s is forbidden: cannot %s resource "%s" in API group "%s"'
                                             % (resource, verb, resource, api_group)))
        if method == "GET" and not name:
            return self.list(coll, ns, q)
        if method == "POST" and not name:
            return self.create(coll, ns)
        obj = find(coll, ns if namespaced else None, name)
        if method == "PUT" and coll == "leases" and not sub:
            return self.update(coll, ns, name, obj)
        if obj is None:
            return self.send(404, status_obj(404, "NotFound", '%s "%s" not found' % (coll, name),
                                             {"name": name, "kind": coll}))
        if method == "POST" and coll == "pods" and sub == "eviction":
            return self.evict(obj)
        if sub and not (coll == "pods" and sub == "resize" and beh("resize_supported", True)):
            return self.send(404, status_obj(404, "NotFound", "the server could not find the requested resource"))
        if method == "GET":
            if coll == "pods" and any(c.get("type") in ("PodResizePending", "PodResizeInProgress")
                                      and c.get("reason") != "Infeasible"
                                      for c in obj.get("status", {}).get("conditions", [])):
                # The kubelet retries a deferred resize and finishes one in progress.
                obj["_in_progress"] = max(0, obj.get("_in_progress", 0) - 1)
                actuate_resize(obj)
                meta(obj)["resourceVersion"] = next_rv()
                self.dump()
            return self.send(200, self.out(coll, obj))
        if method == "DELETE":
            try:
                grace = grace_of(self.body(), q)
            except ValueError as e:
                return self.send(400, status_obj(400, "BadRequest", str(e)))
            failed = precondition_failed(obj, self.body())
            if failed:
                return self.send(409, status_obj(409, "Conflict", 'Operation cannot be fulfilled on %s "%s": %s'
                                                 % (coll, name, failed), {"name": name, "kind": coll}))
            if self.dry:
                gone = copy.deepcopy(obj)
                meta(gone).setdefault("deletionTimestamp", stamp())
                return self.send(200, self.out(coll, gone) if coll == "pods" else
                                 {"kind": "Status", "apiVersion": "v1", "status": "Success", "metadata": {}})
            if coll == "pods":
                delete_pod(obj, grace, "delete")
            else:
                STATE[coll].remove(obj)
                if coll == "jobs" and q.get("propagationPolicy") in ("Background", "Foreground"):
                    pass
            self.dump()
            return self.send(200, self.out(coll, obj) if coll == "pods" else
                             {"kind": "Status", "apiVersion": "v1", "status": "Success", "metadata": {}})
        if method == "PATCH":
            return self.patch(coll, obj, sub)
        return self.send(405, status_obj(405, "MethodNotAllowed", "method not allowed"))

    def handle_locked(self):
        self.read_body()
        q = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(self.path).query))
        if self.command == "GET" and q.get("watch") in ("1", "true"):
            return self.watch(q)
        with LOCK:
            self.handle_any()
            record_events()
            self.dump()

    def chunk(self, obj):
        data = (json.dumps(obj) + "\n").encode()
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def watch(self, q):
        """GET .../pods?watch=1: newline-delimited watch events (ADDED,
        MODIFIED, DELETED, ERROR) in a chunked response that ends after
        timeoutSeconds. Without resourceVersion (or "0"), the current pods
        come first as ADDED; from a resourceVersion older than the kept
        history, one ERROR event with a 410 Expired Status."""
        u = urllib.parse.urlsplit(self.path)
        m = ROUTE.match(u.path)
        with LOCK:
            if not self.authorised():
                return self.send(401, status_obj(401, "Unauthorized", "Unauthorized"))
            if not m or m.group("coll") != "pods" or m.group("name") or m.group("group") != "/api/v1":
                return self.send(405, status_obj(405, "MethodNotAllowed", "the fake watches pods only"))
            if not self.admin and not allowed("", "pods", "watch"):
                return self.send(403, status_obj(403, "Forbidden", 'pods is forbidden: cannot watch resource "pods" in API group ""'))
            tick()
            record_events()
            ns = m.group("ns")

            def match(o):
                return (ns is None or meta(o).get("namespace", "default") == ns) and \
                    ("labelSelector" not in q or query_selector(q["labelSelector"], meta(o).get("labels", {}))) and \
                    ("fieldSelector" not in q or field_selector(q["fieldSelector"], o))
            rv = q.get("resourceVersion", "")
            if rv in ("", "0"):
                pending = [("ADDED", pod_out(p)) for p in STATE.get("pods", []) if match(p)]
                last = RV[0]
            elif not rv.isdigit() or int(rv) < COMPACTED[0]:
                pending = [("ERROR", status_obj(410, "Expired", "too old resource version: %s (%d)" % (rv, COMPACTED[0])))]
                last = None
            else:
                last = int(rv)
                pending = [(t, o) for r, t, o in EVENTS if r > last and match(o)]
                last = max([last] + [r for r, t, o in EVENTS if r > last])
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        if ARGS.log:
            with open(ARGS.log, "a") as f:
                f.write("WATCH %s 200\n" % self.path)
        end = time.time() + min(float(q.get("timeoutSeconds") or 5), 30)
        try:
            for t, o in pending:
                self.chunk({"type": t, "object": o})
            while last is not None and time.time() < end:
                time.sleep(0.05)
                with LOCK:
                    tick()
                    record_events()
                    self.dump()
                    new = [(r, t, o) for r, t, o in EVENTS if r > last]
                for r, t, o in new:
                    last = max(last, r)
                    if match(o):
                        self.chunk({"type": t, "object": o})
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            self.close_connection = True

    do_GET = do_POST = do_PATCH = do_DELETE = do_PUT = handle_locked

    def out(self, coll, obj, in_list=False):
        if coll in ("deployments", "statefulsets"):
            workload_status(coll, obj)
        o = {k: v for k, v in obj.items() if not k.startswith("_")}
        if not in_list:
            group, kind, _ = KINDS[coll]
            o = dict({"kind": kind, "apiVersion": API_VERSION[group]}, **o)
        return o

    def list(self, coll, ns, q):
        items = [o for o in STATE.get(coll, []) if ns is None or meta(o).get("namespace", "default") == ns]
        if "labelSelector" in q:
            items = [o for o in items if query_selector(q["labelSelector"], meta(o).get("labels", {}))]
        if "fieldSelector" in q:
            items = [o for o in items if field_selector(q["fieldSelector"], o)]
        start = int(q.get("continue") or 0)
        limit = int(q.get("limit") or 0) or len(items)
        limit = min(limit, int(beh("max_page", 1 << 30)))
        page = items[start:start + limit]
        md = {"resourceVersion": str(RV[0])}
        if start + limit < len(items):
            md["continue"] = str(start + limit)
            md["remainingItemCount"] = len(items) - start - limit
        group, kind, _ = KINDS[coll]
        self.send(200, {"kind": kind + "List", "apiVersion": API_VERSION[group], "metadata": md,
                        "items": [self.out(coll, o, True) for o in page]})

    def create(self, coll, ns):
        o = self.body()
        group, kind, _ = KINDS[coll]
        if not isinstance(o, dict) or o.get("kind") != kind or o.get("apiVersion") != API_VERSION[group]:
            return self.send(400, status_obj(400, "BadRequest", "expected a %s %s" % (API_VERSION[group], kind)))
        name = meta(o).get("name")
        if not name or not re.match(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$", name):
            return self.send(422, status_obj(422, "Invalid", "%s \"%s\" is invalid: metadata.name" % (kind, name)))
        if find(coll, ns, name) is not None:
            return self.send(409, status_obj(409, "AlreadyExists", '%s "%s" already exists' % (coll, name),
                                             {"name": name, "kind": coll}))
        if coll == "leases" and lease_invalid(o):
            return self.send(422, status_obj(422, "Invalid", 'Lease "%s" is invalid: %s' % (name, lease_invalid(o))))
        if self.dry:
            # Validated and admitted, not persisted: the object as it would be.
            rv = RV[0]
            prepare(coll, o, ns)
            RV[0] = rv
            return self.send(201, self.out(coll, o))
        prepare(coll, o, ns)
        STATE.setdefault(coll, []).append(o)
        if coll == "pods":
            schedule(o)
        if coll == "jobs":
            o["_done_at"] = now_ms() + int(beh("job_duration_ms", 300))
            o["status"] = {"active": 1}
        self.dump()
        self.send(201, self.out(coll, o))

    def update(self, coll, ns, name, obj):
        """PUT of a whole object, as the API server's update of a Lease:
        the body's metadata.resourceVersion must be the stored one (409
        Conflict otherwise; none at all is 422, Leases allow no
        unconditional update); a Lease that does not exist is created by
        it (201, AllowCreateOnUpdate); name and namespace must match the
        path (400); uid and creationTimestamp stay the server's."""
        o = self.body()
        group, kind, _ = KINDS[coll]
        if not isinstance(o, dict) or o.get("kind") != kind or o.get("apiVersion") != API_VERSION[group]:
            return self.send(400, status_obj(400, "BadRequest", "expected a %s %s" % (API_VERSION[group], kind)))
        if meta(o).get("name") != name or meta(o).get("namespace", ns) != ns:
            return self.send(400, status_obj(400, "BadRequest", "the name and namespace of the object (%s/%s) do "
                                             "not match the request's (%s/%s)" % (meta(o).get("namespace", ns),
                                                                                  meta(o).get("name"), ns, name)))
        bad = lease_invalid(o)
        if bad:
            return self.send(422, status_obj(422, "Invalid", 'Lease "%s" is invalid: %s' % (name, bad)))
        if obj is None:
            if self.dry:
                rv = RV[0]
                shown = prepare(coll, copy.deepcopy(o), ns)
                RV[0] = rv
                return self.send(201, self.out(coll, shown))
            meta(o).pop("resourceVersion", None)
            prepare(coll, o, ns)
            STATE.setdefault(coll, []).append(o)
            self.dump()
            return self.send(201, self.out(coll, o))
        want = meta(o).get("resourceVersion")
        if not want:
            return self.send(422, status_obj(422, "Invalid", 'Lease "%s" is invalid: metadata.resourceVersion: '
                                             "Invalid value: 0x0: must be specified for an update" % name))
        if want != meta(obj)["resourceVersion"]:
            return self.send(409, status_obj(
                409, "Conflict", 'Operation cannot be fulfilled on %s.coordination.k8s.io "%s": the object has been '
                "modified; please apply your changes to the latest version and try again" % (coll, name),
                {"name": name, "group": "coordination.k8s.io", "kind": coll}))
        new = {k: v for k, v in o.items() if k not in ("kind", "apiVersion")}
        for f in ("uid", "creationTimestamp"):
            meta(new)[f] = meta(obj)[f]
        meta(new)["namespace"] = ns
        if self.dry:
            return self.send(200, self.out(coll, new))
        meta(new)["resourceVersion"] = next_rv()
        obj.clear()
        obj.update(new)
        self.dump()
        return self.send(200, self.out(coll, obj))

    def evict(self, pod):
        ev = self.body()
        if not isinstance(ev, dict) or ev.get("kind") != "Eviction" or ev.get("apiVersion") != "policy/v1" \
                or meta(ev).get("name") != meta(pod)["name"]:
            return self.send(400, status_obj(400, "BadRequest", "expected a policy/v1 Eviction naming the pod"))
        ns = meta(pod).get("namespace", "default")
        if not meta(pod).get("deletionTimestamp"):
            pdbs = [b for b in STATE.get("poddisruptionbudgets", [])
                    if meta(b).get("namespace", "default") == ns
                    and labels_match(b.get("spec", {}).get("selector"), meta(pod).get("labels", {}))]
            if len(pdbs) > 1:
                return self.send(500, status_obj(500, "InternalError",
                                                 "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support."))
            if pdbs:
                pdb_status(pdbs[0])
                if pdbs[0]["status"]["disruptionsAllowed"] <= 0 and pod_ready(pod):
                    st = pdbs[0]["status"]
                    return self.send(429, status_obj(
                        429, "TooManyRequests", "Cannot evict pod as it would violate the pod's disruption budget.",
                        {"causes": [{"reason": "DisruptionBudget", "message":
                                     "The disruption budget %s needs %d healthy pods and has %d currently"
                                     % (meta(pdbs[0])["name"], st["desiredHealthy"], st["currentHealthy"])}]}))
            try:
                grace = grace_of(ev.get("deleteOptions"), {})
                dry = self.dry or dry_of(ev.get("deleteOptions"), {})
            except ValueError as e:
                return self.send(400, status_obj(400, "BadRequest", str(e)))
            if not dry:
                delete_pod(pod, grace, "eviction")
        self.dump()
        self.send(201, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201})

    def patch(self, coll, obj, sub):
        ct = (self.headers.get("Content-Type") or "").split(";")[0].strip()
        p = self.body()
        if ct not in ("application/merge-patch+json", "application/strategic-merge-patch+json"):
            return self.send(415, status_obj(415, "UnsupportedMediaType",
                                             "the fake supports merge-patch+json and strategic-merge-patch+json only"))
        if ct == "application/strategic-merge-patch+json" and coll not in ("pods", "nodes", "deployments",
                                                                          "statefulsets", "jobs"):
            return self.send(415, status_obj(415, "UnsupportedMediaType", "strategic merge patch is not supported for this kind"))
        if not isinstance(p, dict):
            return self.send(400, status_obj(400, "BadRequest", "the patch is not a JSON object"))
        if coll == "nodes" and beh("heartbeat_conflict", False) and not obj.get("_beat"):
            # A kubelet status update lands between the client's read and
            # its write: a write carrying the read resourceVersion gets 409.
            obj["_beat"] = True
            set_node_ready(obj, node_ready(obj))
        want = (p.get("metadata") or {}).get("resourceVersion")
        if want is not None and want != meta(obj)["resourceVersion"]:
            return self.send(409, status_obj(
                409, "Conflict", 'Operation cannot be fulfilled on %s "%s": the object has been modified; '
                "please apply your changes to the latest version and try again" % (coll, meta(obj)["name"]),
                {"name": meta(obj)["name"], "kind": coll}))
        if sub == "resize":
            # Only the containers' cpu and memory requests and limits may change.
            spec = p.get("spec") or {}
            bad = set(p) - {"spec", "metadata"} or set(spec) - {"containers"} or any(
                set(c) - {"name", "resources"} or set(c.get("resources") or {}) - {"requests", "limits"} or
                any(set(v or {}) - {"cpu", "memory"} for v in (c.get("resources") or {}).values())
                for c in spec.get("containers", []))
            if bad:
                return self.send(422, status_obj(422, "Invalid", "resize may only change the cpu and memory of "
                                                 "spec.containers[*].resources"))
            try:
                for c in spec.get("containers", []):
                    for v in (c.get("resources") or {}).values():
                        for q in (v or {}).values():
                            if q is not None:
                                quantity(q)
            except ValueError as e:
                return self.send(422, status_obj(422, "Invalid", str(e)))
        fn = merge_patch if ct == "application/merge-patch+json" else strategic_merge
        new = fn(copy.deepcopy(obj), p)
        if self.dry:
            return self.send(200, self.out(coll, new))
        meta(new)["resourceVersion"] = next_rv()
        obj.clear()
        obj.update(new)
        if sub == "resize":
            meta(obj)["generation"] = meta(obj).get("generation", 1) + 1
            obj["_in_progress"] = int(beh("resize_in_progress_polls", 0))
            actuate_resize(obj)
        if coll == "poddisruptionbudgets":
            pdb_status(obj)
        self.dump()
        self.send(200, self.out(coll, obj))

    def prometheus(self, path):
        """A fake Prometheus query_range for apply's monitoring: the
        usage of a pod named in the query (pod="NAME"), from the
        cluster file's behaviour.usage, as a constant matrix."""
        form = dict(urllib.parse.parse_qsl(self.raw.decode() if self.raw else urllib.parse.urlsplit(self.path).query))
        query = form.get("query", "")
        res = "cpu" if "cpu" in query else "memory"
        pod = re.search(r'pod="([^"]+)"', query)
        usage = beh("usage", {}).get(pod.group(1) if pod else "", {})
        result = []
        if res in usage:
            start, end, step = float(form.get("start", 0)), float(form.get("end", 0)), float(form.get("step", 60))
            vals, t = [], start
            while t <= end and len(vals) < 11000:
                vals.append([t, str(usage[res])])
                t += step
            result.append({"metric": {"pod": pod.group(1)}, "values": vals})
        if ARGS.log:
            with open(ARGS.log, "a") as f:
                f.write("PROM %s %s\n" % (res, pod.group(1) if pod else "-"))
        body = json.dumps({"status": "success", "data": {"resultType": "matrix", "result": result}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def dump(self):
        if not ARGS.dump:
            return
        tmp = ARGS.dump + ".tmp"
        with open(tmp, "w") as f:
            json.dump({k: [{kk: vv for kk, vv in o.items() if not kk.startswith("_")} for o in v]
                       if isinstance(v, list) else v for k, v in STATE.items()}, f, indent=1)
        os.replace(tmp, ARGS.dump)


def main():
    global ARGS, TOKEN
    ap = argparse.ArgumentParser()
    ap.add_argument("--cluster", required=True)
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--token-file", required=True)
    ap.add_argument("--client-ca")
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--dump")
    ap.add_argument("--log")
    ap.add_argument("--rbac", help="enforce the rules of this ClusterRole (403 Forbidden otherwise)")
    ARGS = ap.parse_args()
    global RULES
    if ARGS.rbac:
        RULES = load_rbac(ARGS.rbac)
    with open(ARGS.token_file) as f:
        TOKEN = f.read().strip()
    with open(ARGS.cluster) as f:
        STATE.update(json.load(f))
    for coll in KINDS:
        for o in STATE.get(coll, []):
            prepare(coll, o, meta(o).get("namespace"))
            if coll == "pods" and o.get("spec", {}).get("nodeName") and "status" not in o:
                set_pod_ready(o, True)
    for pdb in STATE.get("poddisruptionbudgets", []):
        pdb_status(pdb)
    record_events()
    COMPACTED[0] = RV[0]
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(ARGS.cert, ARGS.key)
    if ARGS.client_ca:
        ctx.load_verify_locations(ARGS.client_ca)
        ctx.verify_mode = ssl.CERT_OPTIONAL
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    tmp = ARGS.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(srv.server_address[1]))
    os.replace(tmp, ARGS.port_file)
    Handler.dump(Handler.__new__(Handler))
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
