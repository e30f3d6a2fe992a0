#!/usr/bin/env python3
"""Strict validation of custom resources against their CRD schemas.

    validate_crd.py SCHEMA_DIR FILE...

SCHEMA_DIR holds `crds/` (see shared/schemas/README.md): `*.yaml` files are
full CustomResourceDefinitions (schema at
spec.versions[?].schema.openAPIV3Schema), `*.json` files are an extracted
schema named `<group>_<kind lowercased>_<version>.json`.

Every YAML document in each FILE is matched on apiVersion/kind:

- a custom resource with a schema is validated strictly with `jsonschema`:
  unknown fields are errors (every object schema with `properties` gets
  `additionalProperties: false` unless it says
  `x-kubernetes-preserve-unknown-fields: true` or has its own
  additionalProperties), and `metadata` must be an ObjectMeta (name
  required, string labels and annotations with valid keys);
- a document of a built-in Kubernetes kind (Deployment, Service, ...) is
  skipped, and the script says so: kubernetes-validate checks those (a
  `v1 List` has its items checked one by one);
- any other kind is an ERROR: no schema, no check. So is a kind of a
  built-in API group that Kubernetes does not have (`apps/v1 Deploymnet`),
  which kubernetes-validate would pass with a warning only.

Documents are read as Kubernetes reads them: duplicate keys are an error,
dates stay strings. Each error names the file, the document index, the
kind/name and the JSON path, e.g.
  ERROR k8s/x.yaml doc[2] TestRun/load: $.spec.script: Additional properties ...

Exit status: 0 when every matched document validates, 1 on any error, 2 on
a usage problem (no schema folder, jsonschema not installed).
Needs jsonschema and PyYAML: run it with .tools/venv/bin/python
(scripts/install-tools.sh installs both).
"""

from __future__ import annotations

import copy
import json
import re
import sys
from pathlib import Path

try:
    import jsonschema
    import yaml
except ImportError as e:  # pragma: no cover - environment problem
    print(
        f"validate_crd: {e}; run scripts/install-tools.sh and use .tools/venv/bin/python",
        file=sys.stderr,
    )
    sys.exit(2)

# The kinds built into Kubernetes, by API group ("" is the core group,
# apiVersion: v1). kubernetes-validate checks these; a kind of these groups
# that is not listed is an error (it would pass kubernetes-validate with a
# warning only).
BUILTIN_KINDS = {
    "": "Binding ComponentStatus ConfigMap Endpoints Event LimitRange List Namespace Node "
    "PersistentVolume PersistentVolumeClaim Pod PodTemplate ReplicationController "
    "ResourceQuota Secret Service ServiceAccount",
    "apps": "ControllerRevision DaemonSet Deployment ReplicaSet StatefulSet",
    "batch": "CronJob Job",
    "autoscaling": "HorizontalPodAutoscaler Scale",
    "policy": "Eviction PodDisruptionBudget PodSecurityPolicy",
    "extensions": "DaemonSet Deployment Ingress NetworkPolicy ReplicaSet",
    "admissionregistration.k8s.io": "MutatingAdmissionPolicy MutatingAdmissionPolicyBinding "
    "MutatingWebhookConfiguration ValidatingAdmissionPolicy ValidatingAdmissionPolicyBinding "
    "ValidatingWebhookConfiguration",
    "apiextensions.k8s.io": "CustomResourceDefinition",
    "apiregistration.k8s.io": "APIService",
    "authentication.k8s.io": "SelfSubjectReview TokenRequest TokenReview",
    "authorization.k8s.io": "LocalSubjectAccessReview SelfSubjectAccessReview "
    "SelfSubjectRulesReview SubjectAccessReview",
    "certificates.k8s.io": "CertificateSigningRequest ClusterTrustBundle",
    "coordination.k8s.io": "Lease LeaseCandidate",
    "discovery.k8s.io": "EndpointSlice",
    "events.k8s.io": "Event",
    "flowcontrol.apiserver.k8s.io": "FlowSchema PriorityLevelConfiguration",
    "internal.apiserver.k8s.io": "StorageVersion",
    "networking.k8s.io": "IPAddress Ingress IngressClass NetworkPolicy ServiceCIDR",
    "node.k8s.io": "RuntimeClass",
    "rbac.authorization.k8s.io": "ClusterRole ClusterRoleBinding Role RoleBinding",
    "resource.k8s.io": "DeviceClass ResourceClaim ResourceClaimTemplate ResourceSlice",
    "scheduling.k8s.io": "PriorityClass",
    "storage.k8s.io": "CSIDriver CSINode CSIStorageCapacity StorageClass VolumeAttachment "
    "VolumeAttributesClass",
    "storagemigration.k8s.io": "StorageVersionMigration",
}
BUILTIN_KINDS = {group: set(kinds.split()) for group, kinds in BUILTIN_KINDS.items()}


def builtin_group(api_version: str):
    """The API group of a built-in apiVersion, or None for any other."""
    group = api_version.rpartition("/")[0]
    return group if group in BUILTIN_KINDS else None


# The CamelCase of kinds whose schema comes from a `.json` file, where only
# the lowercased kind is known (from the file name).
KNOWN_KINDS = {
    k.lower(): k
    for k in [
        "ScaledObject",
        "ScaledJob",
        "TriggerAuthentication",
        "ClusterTriggerAuthentication",
        "PrometheusRule",
        "ServiceMonitor",
        "PodMonitor",
        "Probe",
        "AlertmanagerConfig",
        "Prometheus",
        "Alertmanager",
    ]
}

# ----------------------------------------------------------------- metadata --

DNS_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
DNS_SUBDOMAIN = rf"^(?=.{{1,253}}$){DNS_LABEL}(\.{DNS_LABEL})*$"
# A label or annotation key: an optional DNS-subdomain prefix and `/`, then a
# name of at most 63 characters.
QUALIFIED_NAME = (
    rf"^(?:(?=[^/]{{1,253}}/){DNS_LABEL}(?:\.{DNS_LABEL})*/)?"
    r"(?=[^/]{1,63}$)[A-Za-z0-9](?:[-A-Za-z0-9_.]*[A-Za-z0-9])?$"
)
LABEL_VALUE = r"^(?:[A-Za-z0-9](?:[-A-Za-z0-9_.]*[A-Za-z0-9])?)?$"

OBJECT_META = {
    "type": "object",
    "required": ["name"],
    "additionalProperties": False,
    "properties": {
        "name": {"type": "string", "pattern": DNS_SUBDOMAIN},
        "namespace": {"type": "string", "maxLength": 63, "pattern": f"^{DNS_LABEL}$"},
        "labels": {
            "type": "object",
            "propertyNames": {"pattern": QUALIFIED_NAME},
            "additionalProperties": {"type": "string", "maxLength": 63, "pattern": LABEL_VALUE},
        },
        "annotations": {
            "type": "object",
            "propertyNames": {"pattern": QUALIFIED_NAME},
            "additionalProperties": {"type": "string"},
        },
        "generateName": {"type": "string"},
        "uid": {"type": "string"},
        "resourceVersion": {"type": "string"},
        "generation": {"type": "integer"},
        "creationTimestamp": {"type": ["string", "null"]},
        "deletionTimestamp": {"type": ["string", "null"]},
        "deletionGracePeriodSeconds": {"type": "integer"},
        "finalizers": {"type": "array", "items": {"type": "string"}},
        "ownerReferences": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["apiVersion", "kind", "name", "uid"],
                "additionalProperties": False,
                "properties": {
                    "apiVersion": {"type": "string"},
                    "kind": {"type": "string"},
                    "name": {"type": "string"},
                    "uid": {"type": "string"},
                    "controller": {"type": "boolean"},
                    "blockOwnerDeletion": {"type": "boolean"},
                },
            },
        },
        "managedFields": {"type": "array", "items": {"type": "object"}},
    },
}

# ------------------------------------------------------------------ schemas --


def strict(schema):
    """Turns a structural openAPIV3Schema into a strict JSON Schema (draft 7),
    in place: additionalProperties: false where the object lists its
    properties, nullable and int-or-string made explicit, boolean
    exclusiveMinimum/Maximum (draft 4 style) made numeric."""
    if isinstance(schema, list):
        for s in schema:
            strict(s)
        return schema
    if not isinstance(schema, dict):
        return schema

    if schema.get("nullable") is True and "type" in schema:
        types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        schema["type"] = types + ["null"]
    if schema.get("x-kubernetes-int-or-string") and not any(
        k in schema for k in ("anyOf", "oneOf", "type")
    ):
        schema["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    for bound, excl in (("minimum", "exclusiveMinimum"), ("maximum", "exclusiveMaximum")):
        if isinstance(schema.get(excl), bool):
            if schema.pop(excl) and bound in schema:
                schema[excl] = schema.pop(bound)

    if (
        "properties" in schema
        and "additionalProperties" not in schema
        and schema.get("x-kubernetes-preserve-unknown-fields") is not True
    ):
        schema["additionalProperties"] = False

    # Recurse into the structural positions only. Branches of anyOf/oneOf/
    # allOf/not may only restate value checks in a structural schema, and
    # closing them would reject fields that the outer object allows.
    for key in ("properties", "patternProperties"):
        for sub in schema.get(key, {}).values():
            strict(sub)
    for key in ("items", "additionalProperties"):
        if isinstance(schema.get(key), (dict, list)):
            strict(schema[key])
    for key in ("anyOf", "oneOf", "allOf"):
        for sub in schema.get(key, []):
            if isinstance(sub, dict) and "properties" not in sub:
                strict(sub)
    return schema


def for_resource(schema):
    """The strict schema of a whole resource: ObjectMeta for metadata,
    apiVersion/kind/metadata required."""
    schema = strict(copy.deepcopy(schema))
    schema.setdefault("properties", {})["metadata"] = OBJECT_META
    schema["required"] = sorted(set(schema.get("required", [])) | {"apiVersion", "kind", "metadata"})
    if schema.get("x-kubernetes-preserve-unknown-fields") is not True:
        schema["additionalProperties"] = False
    return schema


class Catalog:
    """The CRD schemas of SCHEMA_DIR/crds, keyed by (apiVersion, kind)."""

    def __init__(self, crd_dir: Path):
        self.dir = crd_dir
        self.raw = {}  # (apiVersion, kind) -> openAPIV3Schema
        self.where = {}  # (apiVersion, kind) -> file name
        self.lowercase_only = set()  # keys whose kind spelling is a guess
        self.validators = {}
        for path in sorted(crd_dir.glob("*.yaml")) + sorted(crd_dir.glob("*.yml")):
            with open(path) as f:
                for doc in yaml.load_all(f, Loader=FastLoader):
                    if isinstance(doc, dict) and doc.get("kind") == "CustomResourceDefinition":
                        self._add_crd(doc, path.name)
        for path in sorted(crd_dir.glob("*.json")):
            m = re.fullmatch(r"(.+)_([a-z0-9]+)_(v[0-9a-z]+)\.json", path.name)
            if not m:
                raise SystemExit(
                    f"validate_crd: {path}: expected <group>_<kind>_<version>.json as the name"
                )
            group, kind_lower, version = m.groups()
            kind = KNOWN_KINDS.get(kind_lower, kind_lower)
            key = (f"{group}/{version}", kind)
            self.raw[key] = json.loads(path.read_text())
            self.where[key] = path.name
            if kind_lower not in KNOWN_KINDS:
                self.lowercase_only.add(key)

    def _add_crd(self, crd, name):
        spec = crd.get("spec", {})
        group, kind = spec.get("group"), spec.get("names", {}).get("kind")
        for version in spec.get("versions", []):
            schema = (version.get("schema") or {}).get("openAPIV3Schema")
            if group and kind and schema and version.get("served", True):
                key = (f"{group}/{version['name']}", kind)
                self.raw[key] = schema
                self.where[key] = name

    def lookup(self, api_version, kind):
        """(key, problem): the schema key for a document, or why there is none."""
        if (api_version, kind) in self.raw:
            return (api_version, kind), None
        for key in self.raw:
            if key[0] == api_version and key[1].lower() == kind.lower():
                if key in self.lowercase_only:
                    return key, None
                return None, f"kind {kind!r} is spelled {key[1]!r}"
        versions = sorted(a for a, k in self.raw if k.lower() == kind.lower())
        if versions:
            return None, (
                f"no schema for {kind} at apiVersion {api_version} (known: {', '.join(versions)})"
            )
        return None, (
            f"unknown custom resource kind {kind} ({api_version}): no CRD schema in {self.dir}"
        )

    def validator(self, key):
        if key not in self.validators:
            schema = for_resource(self.raw[key])
            self.validators[key] = jsonschema.Draft7Validator(schema)
        return self.validators[key]


# --------------------------------------------------------------------- YAML --

FastLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class StrictLoader(yaml.SafeLoader):
    """Safe YAML that rejects duplicate keys (as the API server's strict
    decoding does) and keeps dates as strings (as Kubernetes does)."""


StrictLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _mapping(loader, node, deep=False):
    loader.flatten_mapping(node)
    seen = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        seen[key] = True
    return loader.construct_mapping(node, deep=deep)


StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)


# --------------------------------------------------------------------- main --


def json_path(path) -> str:
    out = "$"
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif re.fullmatch(r"[A-Za-z_][A-Za-z0-9_-]*", str(part)):
            out += f".{part}"
        else:
            out += f"[{json.dumps(part)}]"
    return out


def describe(error) -> str:
    """The message of a validation error; for anyOf/oneOf, the closest branch."""
    if error.validator in ("anyOf", "oneOf") and error.context:
        best = jsonschema.exceptions.best_match(error.context)
        return f"{error.message} ({best.message})"
    return error.message


class Run:
    def __init__(self, catalog: Catalog):
        self.catalog = catalog
        self.validated = self.skipped = self.errors = 0

    def error(self, where, what):
        self.errors += 1
        print(f"ERROR {where}: {what}")

    def document(self, where, doc):
        if doc is None:
            return
        if not isinstance(doc, dict):
            self.error(where, f"not a mapping but {type(doc).__name__}")
            return
        api_version, kind = doc.get("apiVersion"), doc.get("kind")
        meta = doc.get("metadata")
        name = meta.get("name") if isinstance(meta, dict) else None
        label = f"{where} {kind or '?'}/{name or '?'}"
        if not isinstance(api_version, str) or not isinstance(kind, str):
            self.error(label, "apiVersion and kind must both be set (strings)")
            return
        key, problem = self.catalog.lookup(api_version, kind)
        group = builtin_group(api_version)
        if key is None and group is not None:
            if kind not in BUILTIN_KINDS[group]:
                self.error(label, f"{kind} is not a built-in kind of {api_version} nor a known CRD")
            elif kind == "List":
                for j, item in enumerate(doc.get("items") or []):
                    self.document(f"{where}.items[{j}]", item)
            else:
                self.skipped += 1
                print(f"SKIP  {label}: built-in kind {api_version} {kind}, kubernetes-validate checks it")
            return
        if key is None:
            self.error(label, problem)
            return
        errors = sorted(
            self.catalog.validator(key).iter_errors(doc),
            key=lambda e: (list(map(str, e.absolute_path)), e.message),
        )
        self.validated += 1
        if not errors:
            print(f"ok    {label} ({self.catalog.where[key]})")
        for e in errors:
            self.error(label, f"{json_path(e.absolute_path)}: {describe(e)}")

    def file(self, path: Path):
        try:
            text = path.read_text()
        except OSError as e:
            self.error(str(path), f"cannot read: {e.strerror}")
            return
        try:
            docs = list(yaml.load_all(text, Loader=StrictLoader))
        except yaml.YAMLError as e:
            self.error(str(path), f"invalid YAML: {e}")
            return
        for i, doc in enumerate(docs):
            self.document(f"{path} doc[{i}]", doc)


def main(argv):
    if len(argv) < 3 or argv[1] in ("-h", "--help"):
        print("usage: validate_crd.py SCHEMA_DIR FILE...", file=sys.stderr)
        return 2
    base = Path(argv[1])
    crd_dir = base / "crds" if (base / "crds").is_dir() else base
    if not crd_dir.is_dir() or not any(crd_dir.glob("*.*")):
        print(f"validate_crd: no CRD schemas at {crd_dir}", file=sys.stderr)
        return 2
    run = Run(Catalog(crd_dir))
    for f in argv[2:]:
        run.file(Path(f))
    print(
        f"validate_crd: {run.validated} validated, {run.skipped} skipped (built-in kinds), "
        f"{run.errors} errors"
    )
    return 1 if run.errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
