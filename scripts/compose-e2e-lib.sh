# shellcheck shell=bash
# What scripts/compose-e2e.sh reads from a running stack: container states,
# the README's commands, the consumers' log lines and partitions, what
# Prometheus holds, and the volumes mounted. Each is a query or a condition
# for `wait_until`; none changes the stack. Sourced by compose-e2e.sh, which
# sets $project, $logs, $file (through `compose`), $acked_expected and
# `plain`, and reads $detail and $acked_seen back.
# shellcheck disable=SC2154 # the variables above are compose-e2e.sh's

# "<name> <health or state> <exit code>" of each container of the project.
states() {
  docker ps -aq --filter "label=com.docker.compose.project=$project" |
    xargs -r docker inspect -f '{{.Name}} {{if .State.Health}}{{.State.Health.Status}}{{else}}{{.State.Status}}{{end}} {{.State.ExitCode}}'
}

all_healthy() {
  states >"$logs/states"
  # Both services and Prometheus there, every container with a healthcheck
  # healthy, the one-shot exited 0.
  grep -q 'producer-service_1 ' "$logs/states" && grep -q 'consumer-service_1 ' "$logs/states" &&
    grep -q 'prometheus_1 ' "$logs/states" &&
    ! grep -vE ' healthy [0-9]+$|kafka-init_1 exited 0$' "$logs/states" >/dev/null
}

# The fenced ```sh blocks of README section "### Post an order", one per file.
readme_commands() {
  awk -v dir="$logs" '
    /^### / { in_section = ($0 == "### Post an order") }
    in_section && /^```sh$/ { n++; out = dir "/readme-" n ".sh"; next }
    out && /^```$/ { close(out); out = ""; next }
    out { print > out }
  ' README.md
}

processed() { compose logs --no-color consumer-service 2>/dev/null | plain | grep 'order processed'; }
# (No grep -q after a pipe here: under pipefail, the writer it stops early
# fails the pipeline with SIGPIPE.)
processed_one() { processed | grep "order processed order_id=$1 " >/dev/null; }
answered() { find "$logs/orders" -name '*.json' | wc -l; }
answered_at_least() { (($(answered) >= $1)); }

# The partitions each consumer owns now, from its assignment log lines
# ("partitions assigned partitions=orders[0],orders[1]" and "revoked"):
# one line per container, "<container> <count>".
owned_counts() {
  local container
  for container in $(compose ps -q consumer-service); do
    docker logs "$container" 2>&1 | plain | awk -v name="$container" '
      /partitions assigned partitions=/ || /partitions revoked partitions=/ {
        match($0, /partitions=[^ ]*/)
        n = split(substr($0, RSTART + 11, RLENGTH - 11), list, ",")
        for (i = 1; i <= n; i++) if (list[i] != "none") {
          if ($0 ~ /assigned/) owned[list[i]] = 1; else delete owned[list[i]]
        }
      }
      END { c = 0; for (p in owned) c++; print substr(name, 1, 12), c }'
  done
}

two_each() {
  owned_counts >"$logs/owned"
  [ "$(wc -l <"$logs/owned")" -eq 3 ] && ! awk '$2 != 2' "$logs/owned" | grep . >/dev/null
}

all_processed() {
  processed | grep -o 'order_id=[0-9a-f-]*' | cut -d= -f2 | sort -u >"$logs/processed"
  [ -z "$(comm -23 "$logs/accepted" "$logs/processed")" ]
}

# Prometheus, on the port the compose files publish.
prometheus_api() { curl -sf --get "localhost:9090/api/v1/$1" "${@:2}"; }
prometheus_value() { prometheus_api query --data-urlencode "query=$1" | jq -r '.data.result[0].value[1] // "none"'; }

# The producer and each of the three consumers scraped, and up.
targets_up() {
  prometheus_api targets >"$logs/targets.json" || return 1
  detail="targets: $(jq -r '[.data.activeTargets[] | "\(.labels.job) \(.health)"] | join(", ")' "$logs/targets.json")"
  jq -e '[.data.activeTargets[] | select(.labels.job == "producer-service")] as $p
    | [.data.activeTargets[] | select(.labels.job == "consumer-service")] as $c
    | ($p | length) == 1 and ($c | length) == 3
      and all($p[], $c[]; .health == "up")' "$logs/targets.json" >/dev/null
}

# orders_published_total{result="acked"}, summed, is $acked_expected.
acked_counted() {
  acked_seen=$(prometheus_value 'sum(orders_published_total{result="acked"})')
  detail="last seen: $acked_seen"
  [ "$acked_seen" = "$acked_expected" ]
}

# Every metric the dashboard queries is a series Prometheus holds.
dashboard_metrics_held() {
  prometheus_api label/__name__/values | jq -r '.data[]' | sort >"$logs/series"
  detail="missing: $(comm -23 <(scripts/check-grafana.py --metrics | sort) "$logs/series" | tr '\n' ' ')"
  [ "$detail" = "missing: " ]
}

# The volumes mounted into the project's containers, named and anonymous.
mounted_volumes() {
  docker ps -aq --filter "label=com.docker.compose.project=$project" |
    xargs -r docker inspect -f '{{range .Mounts}}{{if eq .Type "volume"}}{{println .Name}}{{end}}{{end}}' |
    grep . | sort -u
}
