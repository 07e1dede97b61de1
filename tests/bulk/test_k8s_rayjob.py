"""The KubeRay example (k8s/bulk, as `kubectl kustomize` renders it): its offline validator passes it and
fails a broken copy, and its entrypoint is a `dialogic bulk` command line this CLI accepts, with one
actor per worker CPU."""

from __future__ import annotations

import argparse
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from service.bulk.run import add_arguments
from tests.test_k8s import K8S, KUBECTL

VALIDATOR = K8S / "validate_rayjob.py"


def rendered() -> str:
    return subprocess.run(
        [str(KUBECTL), "kustomize", str(K8S / "bulk")], check=True, capture_output=True, text=True
    ).stdout


def validate(text: str, folder: Path) -> subprocess.CompletedProcess[str]:
    (folder / "bulk.yaml").write_text(text)
    return subprocess.run(
        [sys.executable, str(VALIDATOR), str(folder / "bulk.yaml")], capture_output=True, text=True
    )


def test_the_validator_passes_the_example_and_names_each_problem_of_a_broken_one(tmp_path: Path) -> None:
    text = rendered()
    assert validate(text, tmp_path).returncode == 0
    broken = (
        text.replace("shutdownAfterJobFinishes", "shutdownAfterJobFinished")  # a misspelt RayJob field
        .replace('num-cpus: "0"', "num-cpus: 0")  # rayStartParams are strings
        .replace("readOnlyRootFilesystem", "readOnlyRootFileSystem", 1)  # inside the head's pod template
    )
    result = validate(broken, tmp_path)
    assert result.returncode == 1
    assert "'shutdownAfterJobFinished' was unexpected" in result.stderr
    assert "rayStartParams.num-cpus: 0 is not of type 'string'" in result.stderr
    assert "headGroupSpec: template.spec.containers.0.securityContext" in result.stderr


def test_the_entrypoint_is_a_bulk_command_with_an_actor_per_worker_cpu() -> None:
    docs: list[dict[str, Any]] = list(yaml.safe_load_all(rendered()))
    [job] = [doc for doc in docs if doc["kind"] == "RayJob"]
    program, command, *rest = shlex.split(job["spec"]["entrypoint"])
    assert (program, command) == ("dialogic", "bulk")
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(rest)
    assert args.input.startswith("s3://") and args.output.startswith("s3://")
    cluster = job["spec"]["rayClusterSpec"]
    cpus = sum(
        group["replicas"] * int(group["template"]["spec"]["containers"][0]["resources"]["limits"]["cpu"])
        for group in cluster["workerGroupSpecs"]
    )
    assert args.actors == cpus
    assert cluster["headGroupSpec"]["rayStartParams"]["num-cpus"] == "0"  # no model on the head
    configs = {doc["metadata"]["name"] for doc in docs if doc["kind"] == "ConfigMap"}
    for spec in [cluster["headGroupSpec"], *cluster["workerGroupSpecs"]]:
        [container] = spec["template"]["spec"]["containers"]
        assert container["envFrom"][0]["configMapRef"]["name"] in configs
