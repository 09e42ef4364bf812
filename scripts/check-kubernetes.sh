#!/usr/bin/env bash
# Static checks of the Kubernetes manifests (deploy/kubernetes), offline: no
# cluster runs here, so the manifests are built and validated, not applied.
#
# 1. `kustomize build` of overlays/dev, overlays/production, and production
#    with components/servicemonitor added;
# 2. kubeconform checks every object, strictly (no field the schema does not
#    name), against the JSON schemas of Kubernetes' OpenAPI document and the
#    CRDs of KEDA (ScaledObject, TriggerAuthentication) and the Prometheus
#    Operator (ServiceMonitor);
# 3. scripts/kubernetes-policy.py (its rules in scripts/kubernetes_policy/,
#    a module a topic): probes, limits, the restricted security context, a
#    rollout that keeps the ready count, and grace periods longer than the
#    services' shutdown bounds, read from their own `--help` defaults and
#    the ConfigMaps (target/release binaries; built with
#    scripts/build-release.sh if missing);
# 4. proof that the policy bites: each mutation of `kubernetes-policy.py
#    mutations` (no readiness probe, no security context, no limits, a short
#    grace period, ...) applied to the built output must fail it.
#
# Everything comes from package registries, pinned below, into a cache
# outside the checkout (K8S_CHECK_CACHE, default
# ~/.cache/orders-pipeline/kubernetes): kustomize and kubeconform with
# `go install` (Go 1.24 or later), the Kubernetes and CRD sources as Go
# modules (their checksums pinned too), PyYAML from PyPI in a virtualenv.
# The first run takes 40 s to a minute, the next ones 2 to 3 s.
set -euo pipefail
cd "$(dirname "$0")/.."

KUSTOMIZE_VERSION=v5.8.1   # v5.8.2 and later need Go 1.27
KUBECONFORM_VERSION=v0.7.0 # v0.8.0 needs Go 1.26
PYYAML_VERSION=6.0.3
# The schemas: module, version, go.sum hash, and the files used from it.
KUBERNETES_MODULE=k8s.io/kubernetes@v1.37.2
KUBERNETES_SUM=h1:A2VDEiObzkYqFTKhSsn0ZEb0RlLEXpHWj93gi2HqEwE=
KEDA_MODULE=github.com/kedacore/keda/v2@v2.21.0
KEDA_SUM=h1:R6z2HZvstK4RLUMxroNACzBj74xGxt3kG59b5Xc+Xps=
PROMETHEUS_OPERATOR_MODULE=github.com/prometheus-operator/prometheus-operator@v0.85.0
PROMETHEUS_OPERATOR_SUM=h1:M5xLCLEoaW2IJfnuCwFzzpL+jSVQu3KGT84Pye+fW8s=

cache=${K8S_CHECK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/orders-pipeline/kubernetes}
kustomize=$cache/bin/kustomize-$KUSTOMIZE_VERSION
kubeconform=$cache/bin/kubeconform-$KUBECONFORM_VERSION
venv=$cache/pyyaml-$PYYAML_VERSION
python=$venv/bin/python
schemas=$cache/schemas-${KUBERNETES_MODULE##*@}-keda-${KEDA_MODULE##*@}-prometheus-operator-${PROMETHEUS_OPERATOR_MODULE##*@}

now() { echo "${EPOCHREALTIME/[,.]/}"; }
since() { printf '%d.%02d s' $((($(now) - $1) / 1000000)) $((($(now) - $1) / 10000 % 100)); }
started=$(now)

work=$(mktemp -d)
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT

# Go downloads and builds in a scratch area of the run, so the cache keeps
# only what is used.
go_env() {
  (cd "$work" && env GOFLAGS=-modcacherw GOMODCACHE="$work/go/mod" GOCACHE="$work/go/build" \
    GOTOOLCHAIN=local "$@")
}

need_go() {
  if ! command -v go >/dev/null; then
    echo "check-kubernetes: needs Go 1.24 or later (kustomize $KUSTOMIZE_VERSION, kubeconform $KUBECONFORM_VERSION)" >&2
    exit 1
  fi
}

# module@version, expected go.sum hash -> prints the module's directory.
download_module() {
  local json sum
  json=$(go_env go mod download -json "$1" 2>"$work/go.log") || { cat "$work/go.log" >&2; exit 1; }
  sum=$(sed -n 's/^[[:space:]]*"Sum": "\(.*\)",$/\1/p' <<<"$json")
  if [ "$sum" != "$2" ]; then
    echo "check-kubernetes: $1 has checksum $sum, pinned $2" >&2
    exit 1
  fi
  sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p' <<<"$json"
}

install_tool() { # cached binary (name-version), package@version
  local name=${1##*/}
  name=${name%-v*}
  echo "installing $name ${2##*@} into $cache/bin (once)" >&2
  need_go
  mkdir -p "$cache/bin"
  go_env GOBIN="$work/bin" go install "$2" 2>"$work/go.log" || { cat "$work/go.log" >&2; exit 1; }
  mv "$work/bin/$name" "$1"
}

[ -x "$kustomize" ] || install_tool "$kustomize" "sigs.k8s.io/kustomize/kustomize/v5@$KUSTOMIZE_VERSION"
[ -x "$kubeconform" ] || install_tool "$kubeconform" "github.com/yannh/kubeconform/cmd/kubeconform@$KUBECONFORM_VERSION"

if ! "$python" -c "import yaml; assert yaml.__version__ == '$PYYAML_VERSION'" 2>/dev/null; then
  echo "installing PyYAML $PYYAML_VERSION into $venv (once)" >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet "PyYAML==$PYYAML_VERSION"
fi

if [ ! -f "$schemas/complete" ]; then
  echo "writing the JSON schemas of $KUBERNETES_MODULE, $KEDA_MODULE and $PROMETHEUS_OPERATOR_MODULE into $schemas (once)" >&2
  need_go
  kubernetes=$(download_module "$KUBERNETES_MODULE" "$KUBERNETES_SUM")
  keda=$(download_module "$KEDA_MODULE" "$KEDA_SUM")
  operator=$(download_module "$PROMETHEUS_OPERATOR_MODULE" "$PROMETHEUS_OPERATOR_SUM")
  rm -rf "$schemas" "$schemas.tmp"
  swagger=$kubernetes/api/openapi-spec/swagger.json
  "$python" scripts/kubernetes-schemas.py k8s "$swagger" "$schemas.tmp/kubernetes" >&2
  "$python" scripts/kubernetes-schemas.py crd "$schemas.tmp/crds" "$swagger" \
    "$keda/config/crd/bases/keda.sh_scaledobjects.yaml" \
    "$keda/config/crd/bases/keda.sh_triggerauthentications.yaml" \
    "$operator/example/prometheus-operator-crd/monitoring.coreos.com_servicemonitors.yaml" >&2
  touch "$schemas.tmp/complete"
  mv "$schemas.tmp" "$schemas"
fi
echo "tools ready in $(since "$started"): kustomize $KUSTOMIZE_VERSION, kubeconform $KUBECONFORM_VERSION," \
  "schemas of Kubernetes ${KUBERNETES_MODULE##*@}, KEDA ${KEDA_MODULE##*@}, Prometheus Operator ${PROMETHEUS_OPERATOR_MODULE##*@}"

# The services' own defaults, from the binaries' --help, with an empty
# environment so that no variable of this shell shows up as a value.
for service in producer-service consumer-service; do
  if [ ! -x "target/release/$service" ]; then
    echo "target/release/$service is missing: building the release binaries" >&2
    scripts/build-release.sh
  fi
  env -i PATH="$PATH" "target/release/$service" --help >"$work/$service.help"
done

# Production with the optional ServiceMonitor component, so that it is built
# and validated too.
mkdir -p "$work/production-servicemonitor"
relative=$("$python" -c 'import os, sys; print(os.path.relpath(sys.argv[1], sys.argv[2]))' \
  deploy/kubernetes "$work/production-servicemonitor")
cat >"$work/production-servicemonitor/kustomization.yaml" <<EOF
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources: [$relative/overlays/production]
components: [$relative/components/servicemonitor]
EOF

template='{{ .Group }}/{{ .ResourceKind }}_{{ .ResourceAPIVersion }}.json'
check() { # name, kustomization directory
  local name=$1 dir=$2 built=$work/$1.yaml step count caught=0 total=0
  step=$(now)
  "$kustomize" build "$dir" >"$built"
  count=$(grep -c '^kind:' "$built")
  local build_time validation_start
  build_time=$(since "$step")
  validation_start=$(now)
  "$kubeconform" -strict -summary -output text \
    -schema-location "$schemas/kubernetes/$template" \
    -schema-location "$schemas/crds/$template" "$built" >"$work/$name.kubeconform" ||
    { cat "$work/$name.kubeconform" >&2; echo "$name: schema validation failed" >&2; exit 1; }
  local validation_time policy_start
  validation_time=$(since "$validation_start")
  policy_start=$(now)
  "$python" scripts/kubernetes-policy.py check "$built" \
    "$work/producer-service.help" "$work/consumer-service.help" >"$work/$name.policy" ||
    { echo "$name: policy check failed" >&2; exit 1; }
  if [ "$name" != production-servicemonitor ]; then
    sed "s/^/  $name: /" "$work/$name.policy"
    while IFS=$'\t' read -r mutation expected; do
      total=$((total + 1))
      "$python" scripts/kubernetes-policy.py mutate "$mutation" <"$built" >"$work/mutated.yaml"
      if "$python" scripts/kubernetes-policy.py check "$work/mutated.yaml" \
        "$work/producer-service.help" "$work/consumer-service.help" >/dev/null 2>"$work/mutated.err"; then
        echo "$name: the policy check passed $mutation; it must fail" >&2
        exit 1
      fi
      if ! grep -qF "$expected" "$work/mutated.err"; then
        echo "$name: $mutation failed the policy check, but not with \"$expected\":" >&2
        cat "$work/mutated.err" >&2
        exit 1
      fi
      caught=$((caught + 1))
    done < <("$python" scripts/kubernetes-policy.py mutations)
    if ((total == 0)); then
      echo "$name: no mutation was tried" >&2
      exit 1
    fi
  fi
  local mutations=""
  if ((total)); then
    mutations=", $caught of $total mutations caught"
  fi
  printf '%s: %d objects, built in %s, schemas valid in %s, policy ok%s in %s\n' \
    "$name" "$count" "$build_time" "$validation_time" "$mutations" "$(since "$policy_start")"
}

check dev deploy/kubernetes/overlays/dev
check production deploy/kubernetes/overlays/production
check production-servicemonitor "$work/production-servicemonitor"
echo "kubernetes manifests ok in $(since "$started")"
