"""Offline check of rendered manifests that hold a KubeRay RayJob, a custom resource whose schema is
not among the Kubernetes ones that kubernetes-validate knows.

A RayJob's own fields are checked against rayjob.schema.yaml (the KubeRay v1 fields the example uses,
unknown ones refused); each pod template inside it (head, worker groups, submitter) is wrapped in a
core/v1 PodTemplate and validated, strictly, against the Kubernetes schemas, like every other
document of the file. Not checked offline: KubeRay's own admission rules and defaults, and whether
the operator is installed.

    python k8s/validate_rayjob.py RENDERED.yaml...   (exit 1 and one line per problem if any)
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import yaml
from kubernetes_validate import utils

SCHEMA = yaml.safe_load((Path(__file__).parent / "rayjob.schema.yaml").read_text())


def pod_templates(job: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    spec = job.get("spec", {})
    cluster = spec.get("rayClusterSpec", {})
    if "template" in cluster.get("headGroupSpec", {}):
        yield "headGroupSpec", cluster["headGroupSpec"]["template"]
    for group in cluster.get("workerGroupSpecs", []):
        if "template" in group:
            yield f"workerGroupSpecs[{group.get('groupName')}]", group["template"]
    if "submitterPodTemplate" in spec:
        yield "submitterPodTemplate", spec["submitterPodTemplate"]


def problems(doc: dict[str, Any], version: str) -> Iterator[str]:
    if doc.get("kind") != "RayJob":
        yield from kubernetes_problems(doc, version)
        return
    for error in jsonschema.Draft202012Validator(SCHEMA).iter_errors(doc):
        yield f"{'.'.join(map(str, error.absolute_path)) or '(root)'}: {error.message}"
    for where, template in pod_templates(doc):
        wrapped = {"apiVersion": "v1", "kind": "PodTemplate", "metadata": {"name": "t"}, "template": template}
        yield from (f"{where}: {p}" for p in kubernetes_problems(wrapped, version))


def kubernetes_problems(doc: dict[str, Any], version: str) -> Iterator[str]:
    try:
        utils.validate(doc, version, strict=True)
    except utils.ValidationError as exc:
        yield f"{'.'.join(map(str, exc.path)) or '(root)'}: {exc.message}"


def main(paths: list[str]) -> int:
    version, found = utils.latest_version(), list[str]()
    for path in paths:
        for doc in yaml.safe_load_all(Path(path).read_text()):
            name = f"{path}: {doc.get('kind')} {doc.get('metadata', {}).get('name')}"
            found.extend(f"{name}: {p}" for p in problems(doc, version))
    for problem in found:
        print(problem, file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
