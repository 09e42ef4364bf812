#!/usr/bin/env python3
"""Writes JSON schemas for kubeconform, offline, from what the Go module proxy
serves: Kubernetes' OpenAPI document (k8s.io/kubernetes,
api/openapi-spec/swagger.json) and CustomResourceDefinitions (KEDA's,
the Prometheus Operator's). Used by scripts/check-kubernetes.sh.

    kubernetes-schemas.py k8s SWAGGER_JSON OUT_DIR
    kubernetes-schemas.py crd OUT_DIR SWAGGER_JSON CRD_YAML...

Each schema lands at OUT_DIR/<group>/<kind>_<version>.json (group `v1` for
the core group), kubeconform's
`{{ .Group }}/{{ .ResourceKind }}_{{ .ResourceAPIVersion }}.json`. They are
strict, like kubectl's own validation: an object may hold no field its
schema does not name, unless the schema says it preserves unknown fields.
A CRD's `metadata` is checked against Kubernetes' ObjectMeta. The `crd`
form needs PyYAML; the `k8s` form only the standard library.
"""

import copy
import json
import os
import sys

REF = "#/definitions/"
INT_OR_STRING = "io.k8s.apimachinery.pkg.util.intstr.IntOrString"
QUANTITY = "io.k8s.apimachinery.pkg.api.resource.Quantity"
OBJECT_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"


def strict(node):
    """Returns `node` with unnamed properties refused wherever it names some,
    OpenAPI's `nullable` and Kubernetes' int-or-string as JSON Schema says
    them."""
    if isinstance(node, list):
        return [strict(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: strict(value) for key, value in node.items()}
    if node.get("format") == "int-or-string" or node.get("x-kubernetes-int-or-string"):
        node.pop("type", None)
        node.pop("format", None)
        node.setdefault("anyOf", [{"type": "integer"}, {"type": "string"}])
    if node.pop("nullable", False) and isinstance(node.get("type"), str):
        node["type"] = [node["type"], "null"]
    if (
        "properties" in node
        and "additionalProperties" not in node
        and not node.get("x-kubernetes-preserve-unknown-fields")
    ):
        node["additionalProperties"] = False
    return node


def references(node, found):
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith(REF):
            found.add(ref[len(REF) :])
        for value in node.values():
            references(value, found)
    elif isinstance(node, list):
        for item in node:
            references(item, found)


def closure(names, definitions):
    """The definitions `names` need, transitively."""
    needed, todo = set(), list(names)
    while todo:
        name = todo.pop()
        if name in needed:
            continue
        needed.add(name)
        found = set()
        references(definitions[name], found)
        todo.extend(found - needed)
    return {name: definitions[name] for name in sorted(needed)}


def kubernetes_definitions(swagger_path):
    with open(swagger_path, encoding="utf-8") as file:
        definitions = json.load(file)["definitions"]
    definitions = {name: strict(schema) for name, schema in definitions.items()}
    # YAML writes `port: 8080` and `cpu: 1` as numbers.
    definitions[INT_OR_STRING] = {"anyOf": [{"type": "integer"}, {"type": "string"}]}
    definitions[QUANTITY] = {"anyOf": [{"type": "number"}, {"type": "string"}]}
    return definitions


def write(out_dir, group, kind, version, schema):
    directory = os.path.join(out_dir, group or "v1")
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, f"{kind.lower()}_{version}.json")
    with open(path, "w", encoding="utf-8") as file:
        json.dump(schema, file, separators=(",", ":"), sort_keys=True)
    return path


def pin_type(schema, group, kind, version):
    """apiVersion and kind must be exactly this resource's."""
    api_version = f"{group}/{version}" if group else version
    properties = schema.setdefault("properties", {})
    properties["apiVersion"] = {"type": "string", "enum": [api_version]}
    properties["kind"] = {"type": "string", "enum": [kind]}
    schema["required"] = sorted(set(schema.get("required", [])) | {"apiVersion", "kind"})


def kubernetes(swagger_path, out_dir):
    definitions = kubernetes_definitions(swagger_path)
    written = 0
    for definition in definitions.values():
        for gvk in definition.get("x-kubernetes-group-version-kind", []):
            schema = copy.deepcopy(definition)
            pin_type(schema, gvk["group"], gvk["kind"], gvk["version"])
            needed = set()
            references(schema, needed)
            schema["definitions"] = closure(needed, definitions)
            write(out_dir, gvk["group"], gvk["kind"], gvk["version"], schema)
            written += 1
    print(f"{written} Kubernetes schemas written to {out_dir}")


def crds(out_dir, swagger_path, crd_paths):
    import yaml  # the venv of check-kubernetes.sh has it

    object_meta = closure([OBJECT_META], kubernetes_definitions(swagger_path))
    written = 0
    for path in crd_paths:
        with open(path, encoding="utf-8") as file:
            documents = [doc for doc in yaml.safe_load_all(file) if doc]
        for crd in documents:
            if crd.get("kind") != "CustomResourceDefinition":
                continue
            spec = crd["spec"]
            for version in spec["versions"]:
                schema = strict(version["schema"]["openAPIV3Schema"])
                schema["properties"]["metadata"] = {"$ref": REF + OBJECT_META}
                schema["definitions"] = object_meta
                pin_type(schema, spec["group"], spec["names"]["kind"], version["name"])
                write(out_dir, spec["group"], spec["names"]["kind"], version["name"], schema)
                written += 1
    print(f"{written} custom resource schemas written to {out_dir}")


def main(argv):
    if len(argv) == 4 and argv[1] == "k8s":
        kubernetes(argv[2], argv[3])
    elif len(argv) >= 5 and argv[1] == "crd":
        crds(argv[2], argv[3], argv[4:])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
