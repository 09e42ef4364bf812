# shellcheck shell=bash
# How .ci/images/test.sh runs a stand-in image or a copy of a compose file
# and judges the outcome: waiting on a condition, an image's configuration,
# the properties a Confluent image's configure step writes, a compose file
# with one edit, a service that must refuse to come up, a `docker run` that
# must fail, and an ARG of the Dockerfile. Sourced by test.sh, whose `fail`,
# `passed`, $project, $logs, $checks and $containers they use, and whose
# $copy `edited` sets (its cleanup takes the copy's stack down).
# shellcheck disable=SC2154 # the variables above are test.sh's

# Polls CONDITION once a second for at most LIMIT seconds.
wait_until() {
  local what=$1 limit=$2 start=$SECONDS
  shift 2
  until "$@"; do
    ((SECONDS - start < limit)) || fail "$what: not within $limit s"
    sleep 1
  done
}

# expect IMAGE GO_TEMPLATE VALUE
expect() {
  local got
  got=$(docker image inspect -f "$2" "$1")
  [ "$got" = "$3" ] || fail "$1: $2 is $got, the real image's is $3"
}

# properties IMAGE FILE ENV...: FILE as the image's configure step writes it
# from ENV (sorted, blank lines dropped); configure is a script of its own in
# the Confluent images.
properties() {
  local image=$1 file=$2
  shift 2
  docker run --rm "$@" "$image" bash -c "/etc/confluent/docker/configure >/dev/null && cat $file" |
    grep -v '^[[:space:]]*$' | sort
}

# edited SOURCE SERVICE VARIABLE [VALUE]: a copy of SOURCE (in $copy) without
# SERVICE's VARIABLE, or with it set to VALUE; the original must have it, or
# must not, so that a reshaped compose file cannot make the test pass.
edited() {
  copy=$logs/$(basename "$1" .yml).edited.yml
  python3 - "$@" "$copy" <<'EOF'
import sys, yaml
source, service, variable = sys.argv[1:4]
value = sys.argv[4] if len(sys.argv) == 6 else None
target = sys.argv[-1]
with open(source) as f:
    doc = yaml.safe_load(f)
env = doc["services"][service]["environment"]
if value is None:
    if variable not in env:
        sys.exit(f"{source}: {service} has no {variable} to remove")
    del env[variable]
else:
    if variable in env:
        sys.exit(f"{source}: {service} already sets {variable}")
    env[variable] = value
with open(target, "w") as f:
    yaml.safe_dump(doc, f, sort_keys=False)
EOF
}

# refused SERVICE MESSAGE: `up` of SERVICE alone (its dependencies are not
# what is tested; every refusal here comes before it would wait for them)
# exits non-zero, restarts, and logs MESSAGE; the container never runs the
# service. Then `down -v`.
refused() {
  local service=$1 message=$2 container start=$SECONDS
  compose_copy() { docker-compose --ansi never -p "$project" -f "$copy" --project-directory . "$@"; }
  compose_copy up -d --no-deps "$service" >"$logs/up.log" 2>&1 || { cat "$logs/up.log" >&2; fail "up $service"; }
  container=$(compose_copy ps -q "$service")
  # shellcheck disable=SC2317 # called through wait_until
  gave_up() {
    docker logs "$container" >"$logs/service.log" 2>&1
    grep -qF "$message" "$logs/service.log" &&
      [ "$(docker inspect -f '{{.RestartCount}} {{.State.ExitCode}}' "$container")" != "0 0" ]
  }
  wait_until "$(basename "$copy"): $service refusing with \"$message\"" 90 gave_up
  local state
  state=$(docker inspect -f '{{if .State.Health}}{{.State.Health.Status}}{{else}}no health{{end}}, restarts {{.RestartCount}}, exit code {{.State.ExitCode}}' "$container")
  compose_copy down -v --remove-orphans --timeout 5 >/dev/null 2>&1
  copy=""
  say "    $service: $state after $((SECONDS - start)) s: $(grep -F "$message" "$logs/service.log" | head -1 | cut -c1-160)"
}

# refuses_run WHAT MESSAGE DOCKER_RUN_ARGS...: the container exits non-zero
# with MESSAGE in its output.
refuses_run() {
  local what=$1 message=$2 status=0 name=$project-run-$checks
  shift 2
  containers+=("$name")
  timeout 120 docker run --rm --name "$name" "$@" >"$logs/run.log" 2>&1 || status=$?
  ((status != 0)) || fail "$what: started (exit 0)"
  ((status != 124)) || fail "$what: still running after 120 s"
  grep -qF -- "$message" "$logs/run.log" || { tail -20 "$logs/run.log" >&2; fail "$what: no \"$message\""; }
  grep -q 'Launching kafka' "$logs/run.log" && fail "$what: launched the broker anyway"
  passed "$what (\"$message\")"
}

dockerfile_arg() { awk -v arg="$1" '$1 == "ARG" && index($2, arg "=") == 1 { print substr($2, length(arg) + 2); exit }' Dockerfile; }
