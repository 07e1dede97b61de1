"""The rendered manifests (`kubectl kustomize`, as `make lint` renders them) tell the API's uvicorn to trust
forwarded headers from the in-cluster ingress, in a form uvicorn accepts: without it the admin cookie is
not Secure behind TLS termination and every login counts against the ingress's address. The dev
overlay's Redis, which holds batch jobs, never evicts a key."""

from __future__ import annotations

import ipaddress
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

K8S = Path(__file__).resolve().parents[1] / "k8s"
KUBECTL = Path(sys.executable).with_name("kubectl")


def container(overlay: str, deployment_name: str, container_name: str) -> dict[str, Any]:
    rendered = subprocess.run(
        [str(KUBECTL), "kustomize", str(K8S / overlay)], check=True, capture_output=True, text=True
    ).stdout
    [deployment] = [
        doc
        for doc in yaml.safe_load_all(rendered)
        if doc["kind"] == "Deployment" and doc["metadata"]["name"] == deployment_name
    ]
    [found] = [c for c in deployment["spec"]["template"]["spec"]["containers"] if c["name"] == container_name]
    return dict(found)


def api_env(overlay: str) -> dict[str, str]:
    return {var["name"]: var["value"] for var in container(overlay, "dialogic-api", "api").get("env", [])}


async def seen_by_the_app(trusted: str, peer: str) -> tuple[str, str]:
    """The scheme and client address the app gets from uvicorn's proxy-headers middleware for an https
    request that `peer` forwards on behalf of 203.0.113.9."""
    seen: list[Any] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope)

    scope: Any = {
        "type": "http",
        "scheme": "http",
        "client": (peer, 40000),
        "headers": [(b"x-forwarded-proto", b"https"), (b"x-forwarded-for", b"203.0.113.9")],
    }
    await ProxyHeadersMiddleware(app, trusted_hosts=trusted)(scope, None, None)  # type: ignore[arg-type]
    return seen[0]["scheme"], seen[0]["client"][0]


@pytest.mark.parametrize("overlay", ["base", "overlays/dev", "overlays/prod"])
async def test_the_api_trusts_forwarded_headers_from_the_pod_network(overlay: str) -> None:
    trusted = api_env(overlay)["FORWARDED_ALLOW_IPS"]
    network = ipaddress.ip_network(trusted)  # one network: the pod CIDR (raises on host bits set)
    assert network.is_private and network.num_addresses > 256  # a pod network, not one address
    ingress_pod = str(network.network_address + 7)
    assert await seen_by_the_app(trusted, ingress_pod) == ("https", "203.0.113.9")
    # From outside the pod network the headers are ignored.
    assert await seen_by_the_app(trusted, "192.0.2.1") == ("http", "192.0.2.1")


def test_the_dev_redis_never_evicts_job_keys() -> None:
    """Jobs live in this Redis: under an eviction policy a full Redis would drop a chunk (the job then
    fails, see tests/jobs/test_missing_chunks.py), so at maxmemory it must refuse writes instead."""
    args = container("overlays/dev", "redis", "redis")["args"]
    assert args[args.index("--maxmemory-policy") + 1] == "noeviction"
