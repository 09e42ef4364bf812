#!/usr/bin/env python3
"""The rules every manifest built from deploy/kubernetes keeps, checked on
`kustomize build` output by scripts/check-kubernetes.sh:

    kubernetes-policy.py check BUILT_YAML PRODUCER_HELP CONSUMER_HELP
    kubernetes-policy.py mutate NAME <BUILT_YAML >MUTATED_YAML

`check` fails (exit 1, one line per broken rule) unless
- every container has CPU and memory requests and limits, and the restricted
  security context: non-root (the Dockerfile's user for the two services),
  read-only root filesystem, every capability dropped, no privilege
  escalation, RuntimeDefault seccomp;
- every container of a Deployment has a liveness and a readiness probe (the
  services: /livez and /readyz, on the container port named `management`,
  the port of the service's MANAGEMENT_ADDR), the Deployment rolls with
  maxUnavailable 0 and a PodDisruptionBudget covers it;
- every PodDisruptionBudget sets unhealthyPodEvictionPolicy: AlwaysAllow;
- the services' prometheus.io/port annotations and the ServiceMonitors, if
  any, scrape the management port too;
- each service's terminationGracePeriodSeconds is longer than its preStop
  pause plus the longest its shutdown can take, computed from its own
  defaults (its `--help` text, PRODUCER_HELP and CONSUMER_HELP) overridden
  by what its ConfigMaps set;
- the KEDA ScaledObject, if any, asks for no more consumers than the topics
  Job gives `orders` partitions, and reaches Kafka as the services do.

`mutate` breaks one rule on purpose (see MUTATIONS), so that the script can
prove `check` notices. PyYAML is the one dependency (the venv of
check-kubernetes.sh has it).
"""

import re
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
SERVICES = ("producer-service", "consumer-service")
PROBE_PATHS = {"livenessProbe": "/livez", "readinessProbe": "/readyz"}

# The name of the services' container port for their management listener
# (MANAGEMENT_ADDR: /livez, /readyz, /metrics).
MANAGEMENT_PORT_NAME = "management"

# Shutdown bounds that are not settings of the services: where each comes
# from, and the value in force (milliseconds).
PUBLISH_GUARD_MS = 1_000  # producer-service/src/publisher.rs: delivery timeout + 1 s
# opentelemetry-otlp: exporting the last spans at exit, if an endpoint is set.
OTLP_TIMEOUT_DEFAULT_MS = 10_000


def documents(text):
    return [doc for doc in yaml.safe_load_all(text) if doc]


def pod_spec(obj):
    kind = obj.get("kind")
    if kind in ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"):
        return obj["spec"]["template"]["spec"]
    if kind == "CronJob":
        return obj["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    if kind == "Pod":
        return obj["spec"]
    return None


def containers(spec):
    return spec.get("initContainers", []) + spec.get("containers", [])


def dockerfile_user():
    """The uid the runtime image runs as (`USER 10001:10001`)."""
    users = re.findall(r"^USER\s+(\d+)", (ROOT / "Dockerfile").read_text(), re.M)
    if not users:
        sys.exit("no numeric USER in the Dockerfile")
    return int(users[-1])


def help_defaults(text):
    """{ENV_NAME: default} from clap's --help: `[env: NAME=]` then, a few
    bracketed lines later, `[default: VALUE]`."""
    pattern = re.compile(
        r"\[env: (\w+)[^\]]*\](?:\s*\n\s*\[(?!default:)[^\]]*\])*\s*\n\s*\[default: ([^\]]*)\]"
    )
    return dict(pattern.findall(text))


class Checker:
    def __init__(self, objects, producer_help, consumer_help):
        self.objects = objects
        self.defaults = {
            "producer-service": help_defaults(producer_help),
            "consumer-service": help_defaults(consumer_help),
        }
        self.uid = dockerfile_user()
        self.errors = []
        self.notes = []
        # (Deployment, container) -> the port of its MANAGEMENT_ADDR.
        self.management_ports = {}

    def fail(self, where, message):
        self.errors.append(f"{where}: {message}")

    def find(self, kind, name):
        for obj in self.objects:
            if obj.get("kind") == kind and obj["metadata"]["name"] == name:
                return obj
        return None

    # -- environment ---------------------------------------------------------

    def environment(self, where, container):
        """The container's variables as Kubernetes sets them: envFrom first,
        env over it. Values from Secrets or the downward API are None."""
        env = {}
        for source in container.get("envFrom", []):
            prefix = source.get("prefix", "")
            if "configMapRef" in source:
                name = source["configMapRef"]["name"]
                config_map = self.find("ConfigMap", name)
                if config_map is None:
                    self.fail(where, f"ConfigMap {name} is not in the build")
                    continue
                for key, value in config_map.get("data", {}).items():
                    env[prefix + key] = value
            elif "secretRef" in source:
                secret = self.find("Secret", source["secretRef"]["name"])
                for key in (secret or {}).get("data", {}) or {}:
                    env[prefix + key] = None
        for variable in container.get("env", []):
            if "value" in variable:
                env[variable["name"]] = variable["value"]
            elif "configMapKeyRef" in variable.get("valueFrom", {}):
                ref = variable["valueFrom"]["configMapKeyRef"]
                config_map = self.find("ConfigMap", ref["name"]) or {}
                env[variable["name"]] = config_map.get("data", {}).get(ref["key"])
            else:
                env[variable["name"]] = None
        return env

    def value(self, where, service, env, name, purpose, changed):
        """A service setting as text: the container's value, else the
        service's own default from its --help; None if neither is known."""
        if name in env:
            if env[name] is None:
                self.fail(
                    where,
                    f"{name} comes from a Secret or the downward API: cannot check {purpose}",
                )
            return env[name]
        if name in self.defaults[service]:
            return self.defaults[service][name]
        self.fail(where, f"`{service} --help` has no default for {name}: {changed}")
        return None

    def setting(self, where, service, env, name):
        """A service setting in milliseconds, for the grace period."""
        value = self.value(
            where,
            service,
            env,
            name,
            "the grace period",
            "the shutdown bound changed, check the arithmetic",
        )
        if value is None:
            return 0
        try:
            return int(value)
        except ValueError:
            self.fail(where, f"{name}={value!r} is not a number of milliseconds")
            return 0

    def management_port(self, where, service, env):
        """The port of the service's MANAGEMENT_ADDR (`0.0.0.0:9080`,
        `[::]:9080`), where /livez, /readyz and /metrics are."""
        value = self.value(
            where,
            service,
            env,
            "MANAGEMENT_ADDR",
            "the probes' port",
            "the management listener changed, check the probes",
        )
        if value is None:
            return None
        port = value.rpartition(":")[2]
        if not port.isdigit():
            self.fail(where, f"MANAGEMENT_ADDR={value!r} has no port")
            return None
        return int(port)

    # -- rules ---------------------------------------------------------------

    def check(self):
        for obj in self.objects:
            spec = pod_spec(obj)
            if spec is None:
                continue
            where = f"{obj['kind']}/{obj['metadata']['name']}"
            self.check_pod(where, spec)
            for container in containers(spec):
                self.check_container(f"{where} container {container['name']}", spec, container)
            if obj["kind"] == "Deployment":
                self.check_deployment(where, obj)
                for container in spec.get("containers", []):
                    if container["name"] not in SERVICES:
                        self.check_probes(f"{where} container {container['name']}", container)
                        continue
                    env = self.environment(where, container)
                    port = self.management_port(where, container["name"], env)
                    self.management_ports[(obj["metadata"]["name"], container["name"])] = port
                    self.check_probes(f"{where} container {container['name']}", container, port)
                    self.check_annotations(where, obj, port)
                    self.check_grace(where, spec, container, env)
        self.check_disruption_budgets()
        self.check_service_monitors()
        self.check_scaling()
        return self.errors

    def check_pod(self, where, spec):
        for field in ("hostNetwork", "hostPID", "hostIPC"):
            if spec.get(field):
                self.fail(where, f"{field} is set")
        pod_context = spec.get("securityContext") or {}
        private = [
            volume["name"]
            for volume in spec.get("volumes", [])
            if "secret" in volume and not volume["secret"].get("defaultMode", 0o644) & 0o004
        ]
        if private and "fsGroup" not in pod_context:
            self.fail(
                where,
                f"Secret volumes {private} are not world-readable and the pod sets no fsGroup:"
                " the non-root user cannot read them",
            )

    def check_container(self, where, spec, container):
        resources = container.get("resources") or {}
        for kind in ("requests", "limits"):
            for resource in ("cpu", "memory"):
                if resource not in (resources.get(kind) or {}):
                    self.fail(where, f"no {resource} in resources.{kind}")

        pod = spec.get("securityContext") or {}
        own = container.get("securityContext")
        if not own:
            self.fail(where, "no securityContext")
            own = {}

        def effective(key):
            return own.get(key, pod.get(key))

        if effective("runAsNonRoot") is not True:
            self.fail(where, "runAsNonRoot is not true")
        uid = effective("runAsUser")
        if container["name"] in SERVICES and uid != self.uid:
            self.fail(where, f"runAsUser is {uid}, not the Dockerfile's user {self.uid}")
        elif uid is None or uid == 0:
            self.fail(where, f"runAsUser is {uid}: set a non-root uid")
        if own.get("readOnlyRootFilesystem") is not True:
            self.fail(where, "readOnlyRootFilesystem is not true")
        if own.get("allowPrivilegeEscalation") is not False:
            self.fail(where, "allowPrivilegeEscalation is not false")
        if own.get("privileged"):
            self.fail(where, "privileged")
        capabilities = own.get("capabilities") or {}
        if "ALL" not in (capabilities.get("drop") or []):
            self.fail(where, "capabilities.drop does not include ALL")
        if capabilities.get("add"):
            self.fail(where, f"capabilities.add: {capabilities['add']}")
        seccomp = (effective("seccompProfile") or {}).get("type")
        if seccomp != "RuntimeDefault":
            self.fail(where, f"seccompProfile.type is {seccomp}, not RuntimeDefault")

    def check_probes(self, where, container, management=None):
        """Both probes; for the services, their paths on the management
        port: the container port named `management`, which must be the
        port of MANAGEMENT_ADDR (`management` is None for other
        containers)."""
        service = container["name"] in SERVICES
        if service and management is not None:
            named = container_port(container, MANAGEMENT_PORT_NAME)
            if named != management:
                self.fail(
                    where,
                    f"container port {MANAGEMENT_PORT_NAME!r} is {named}, not MANAGEMENT_ADDR's port {management}",
                )
        for probe, path in PROBE_PATHS.items():
            if probe not in container:
                self.fail(where, f"no {probe}")
            elif service:
                http_get = container[probe].get("httpGet") or {}
                got = http_get.get("path")
                if got != path:
                    self.fail(where, f"{probe} asks {got}, not {path}")
                port = http_get.get("port")
                if management is not None and container_port(container, port) != management:
                    self.fail(
                        where,
                        f"{probe} asks port {port}, not the management port {management} (MANAGEMENT_ADDR)",
                    )

    def check_annotations(self, where, deployment, management):
        """A Prometheus that discovers pods by annotation must scrape the
        management port: the API port has no /metrics."""
        annotations = deployment["spec"]["template"]["metadata"].get("annotations") or {}
        port = annotations.get("prometheus.io/port")
        if management is not None and port is not None and port != str(management):
            self.fail(
                where,
                f"prometheus.io/port is {port}, not the management port {management} (MANAGEMENT_ADDR)",
            )

    def check_disruption_budgets(self):
        """With every pod unready (Kafka away: /readyz answers 503), the
        default policy, IfHealthyBudget, refuses every eviction, and a node
        drain waits for Kafka."""
        for budget in (obj for obj in self.objects if obj.get("kind") == "PodDisruptionBudget"):
            policy = budget["spec"].get("unhealthyPodEvictionPolicy")
            if policy != "AlwaysAllow":
                self.fail(
                    f"PodDisruptionBudget/{budget['metadata']['name']}",
                    f"unhealthyPodEvictionPolicy is {policy or 'unset, so IfHealthyBudget'}:"
                    " set AlwaysAllow, or with every pod unready (Kafka away) a node drain waits for Kafka",
                )

    def check_service_monitors(self):
        """Each ServiceMonitor endpoint names a port of the Services it
        selects, and that port leads to the services' management port."""
        for monitor in (obj for obj in self.objects if obj.get("kind") == "ServiceMonitor"):
            where = f"ServiceMonitor/{monitor['metadata']['name']}"
            wanted = (monitor["spec"].get("selector") or {}).get("matchLabels") or {}
            services = [
                obj
                for obj in self.objects
                if obj.get("kind") == "Service"
                and wanted
                and all(obj["metadata"].get("labels", {}).get(k) == v for k, v in wanted.items())
            ]
            if not services:
                self.fail(where, "selects no Service of the build")
            for endpoint in monitor["spec"].get("endpoints", []):
                name = endpoint.get("port")
                ports = [
                    (service, port)
                    for service in services
                    for port in service["spec"].get("ports", [])
                    if port.get("name") == name
                ]
                if not ports:
                    self.fail(where, f"no Service it selects has a port named {name}")
                for service, port in ports:
                    self.check_monitored_port(where, service, port)

    def check_monitored_port(self, where, service, port):
        selector = service["spec"].get("selector") or {}
        target = port.get("targetPort", port["port"])
        for deployment in (obj for obj in self.objects if obj.get("kind") == "Deployment"):
            labels = deployment["spec"]["template"]["metadata"].get("labels", {})
            if not selector or any(labels.get(k) != v for k, v in selector.items()):
                continue
            for container in pod_spec(deployment)["containers"]:
                if container["name"] not in SERVICES:
                    continue
                key = (deployment["metadata"]["name"], container["name"])
                management = self.management_ports.get(key)
                got = container_port(container, target)
                if management is not None and got != management:
                    self.fail(
                        where,
                        f"Service/{service['metadata']['name']} port {port.get('name')} leads to"
                        f" {container['name']}'s port {got}, not the management port {management}",
                    )

    def check_deployment(self, where, deployment):
        strategy = deployment["spec"].get("strategy") or {}
        rolling = strategy.get("rollingUpdate") or {}
        if strategy.get("type", "RollingUpdate") != "RollingUpdate" or str(
            rolling.get("maxUnavailable", "25%")
        ) not in ("0", "0%"):
            self.fail(
                where,
                "the rollout may drop below the ready count: use RollingUpdate with maxUnavailable 0",
            )
        labels = deployment["spec"]["template"]["metadata"].get("labels", {})
        covered = any(
            obj.get("kind") == "PodDisruptionBudget"
            and (obj["spec"].get("selector") or {}).get("matchLabels")
            and all(labels.get(k) == v for k, v in obj["spec"]["selector"]["matchLabels"].items())
            for obj in self.objects
        )
        if not covered:
            self.fail(where, "no PodDisruptionBudget selects its pods")

    def check_grace(self, where, spec, container, env):
        service = container["name"]
        grace = spec.get("terminationGracePeriodSeconds", 30)
        pre_stop = pre_stop_seconds(container)
        if pre_stop is None:
            self.fail(
                where,
                "preStop is neither an exec `sleep N` nor `sleep: {seconds: N}`: cannot add it up",
            )
            pre_stop = 0

        def setting(name):
            return self.setting(where, service, env, name)

        if service == "producer-service":
            parts = [
                (
                    "REQUEST_TIMEOUT_MS (the slowest upload in flight)",
                    setting("REQUEST_TIMEOUT_MS"),
                ),
                ("DELIVERY_TIMEOUT_MS (then its acknowledgement)", setting("DELIVERY_TIMEOUT_MS")),
                ("the publish guard", PUBLISH_GUARD_MS),
                ("FLUSH_TIMEOUT_MS", setting("FLUSH_TIMEOUT_MS")),
            ]
        else:
            parts = [
                (
                    "DELIVERY_TIMEOUT_MS (a dead-letter write in flight)",
                    setting("DELIVERY_TIMEOUT_MS"),
                ),
                (
                    "FINAL_COMMIT_TIMEOUT_MS (the final commit and leaving the group)",
                    setting("FINAL_COMMIT_TIMEOUT_MS"),
                ),
            ]
        if env.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
            timeout = env.get("OTEL_EXPORTER_OTLP_TIMEOUT") or OTLP_TIMEOUT_DEFAULT_MS
            parts.append(("OTEL_EXPORTER_OTLP_TIMEOUT (the last spans)", int(timeout)))
        bound_ms = pre_stop * 1000 + sum(ms for _, ms in parts)
        arithmetic = " + ".join(
            [f"preStop {pre_stop} s"] + [f"{name} {ms / 1000:g} s" for name, ms in parts]
        )
        if grace * 1000 <= bound_ms:
            self.fail(
                where,
                f"terminationGracePeriodSeconds {grace} is not longer than {arithmetic} = {bound_ms / 1000:g} s",
            )
        else:
            self.notes.append(f"{where}: grace {grace} s > {arithmetic} = {bound_ms / 1000:g} s")

    def check_scaling(self):
        job = self.find("Job", "orders-topics")
        partitions = None
        if job:
            for container in pod_spec(job)["containers"]:
                value = self.environment("Job/orders-topics", container).get("ORDERS_PARTITIONS")
                if value is not None:
                    partitions = int(value)
        consumer = self.find("Deployment", "consumer-service")
        if partitions and consumer and consumer["spec"].get("replicas", 1) > partitions:
            self.fail(
                "Deployment/consumer-service",
                f"more replicas than the {partitions} partitions of orders",
            )
        for scaled in (obj for obj in self.objects if obj.get("kind") == "ScaledObject"):
            where = f"ScaledObject/{scaled['metadata']['name']}"
            most = scaled["spec"].get("maxReplicaCount", 100)
            if partitions is None:
                self.fail(
                    where,
                    "no orders-topics Job with ORDERS_PARTITIONS to compare maxReplicaCount with",
                )
            elif most > partitions:
                self.fail(
                    where,
                    f"maxReplicaCount {most} is more than the {partitions} partitions of orders",
                )
            target = self.find("Deployment", scaled["spec"]["scaleTargetRef"]["name"])
            if target is None:
                self.fail(where, "its scaleTargetRef is not in the build")
                continue
            env = self.environment(where, pod_spec(target)["containers"][0])
            for trigger in scaled["spec"].get("triggers", []):
                if trigger.get("type") == "kafka":
                    self.check_kafka_trigger(where, trigger, env)

    def check_kafka_trigger(self, where, trigger, env):
        metadata = trigger.get("metadata", {})
        for key, value in metadata.items():
            if key.endswith("FromEnv") and value not in env:
                self.fail(where, f"{key}: {value} is not in the target's environment")
        protocol = env.get("KAFKA_SECURITY_PROTOCOL", "PLAINTEXT")
        want_tls = "enable" if protocol in ("SSL", "SASL_SSL") else "disable"
        if metadata.get("tls", "disable") != want_tls:
            self.fail(
                where, f"tls is {metadata.get('tls', 'disable')}, the services use {protocol}"
            )
        mechanism = env.get("KAFKA_SASL_MECHANISM") if protocol.startswith("SASL") else None
        want_sasl = {
            None: "none",
            "PLAIN": "plaintext",
            "SCRAM-SHA-256": "scram_sha256",
            "SCRAM-SHA-512": "scram_sha512",
        }.get(mechanism)
        if metadata.get("sasl", "none") != want_sasl:
            self.fail(
                where,
                f"sasl is {metadata.get('sasl', 'none')}, the services use {mechanism or 'no SASL'}",
            )
        if want_sasl != "none" and not trigger.get("authenticationRef"):
            self.fail(where, "SASL without an authenticationRef")
        reset = env.get("AUTO_OFFSET_RESET", "earliest")
        if metadata.get("offsetResetPolicy", "latest") != reset:
            self.fail(where, f"offsetResetPolicy is not the consumer's AUTO_OFFSET_RESET ({reset})")


def container_port(container, port):
    """The number a probe's or a Service's port means in the container: a
    number as it is, a name through the container's ports (None if none has
    it)."""
    if isinstance(port, int) or str(port).isdigit():
        return int(port)
    for entry in container.get("ports", []):
        if entry.get("name") == port:
            return entry["containerPort"]
    return None


def pre_stop_seconds(container):
    """Seconds the preStop hook pauses: 0 without one, None if unknown."""
    hook = ((container.get("lifecycle") or {}).get("preStop")) or {}
    if not hook:
        return 0
    if "sleep" in hook:
        return int(hook["sleep"]["seconds"])
    command = (hook.get("exec") or {}).get("command") or []
    words = " ".join(command).split()
    if len(words) >= 2 and words[-2].endswith("sleep") and words[-1].isdigit():
        return int(words[-1])
    return None


# -- mutations: each must make `check` fail ------------------------------------


def first_container(objects, name):
    for obj in objects:
        if obj.get("kind") == "Deployment" and obj["metadata"]["name"] == name:
            return obj, obj["spec"]["template"]["spec"]["containers"][0]
    sys.exit(f"no Deployment {name} to mutate")


def mutate(name, objects):
    deployment, container = first_container(
        objects, SERVICES[0] if "producer" in name else SERVICES[1]
    )
    if name == "consumer-without-readiness-probe":
        del container["readinessProbe"]
    elif name == "producer-without-liveness-probe":
        del container["livenessProbe"]
    elif name == "producer-without-security-context":
        del container["securityContext"]
    elif name == "consumer-without-limits":
        del container["resources"]["limits"]
    elif name == "producer-grace-too-short":
        # 30 s is Kubernetes' default: shorter than 10 s of preStop plus the
        # producer's drain and flush.
        deployment["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] = 30
    elif name == "consumer-grace-too-short":
        # Exactly the consumer's bound: a dead-letter write and the final
        # commit, 10 s each.
        deployment["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] = 20
    elif name == "producer-readiness-probe-on-api-port":
        container["readinessProbe"]["httpGet"]["port"] = "http"
    elif name == "consumer-budget-without-unhealthy-pod-eviction-policy":
        for obj in objects:
            if obj.get("kind") == "PodDisruptionBudget" and obj["metadata"]["name"] == SERVICES[1]:
                del obj["spec"]["unhealthyPodEvictionPolicy"]
                break
        else:
            sys.exit(f"no PodDisruptionBudget {SERVICES[1]} to mutate")
    else:
        sys.exit(f"unknown mutation {name}; known: {', '.join(MUTATIONS)}")
    return objects


# Each mutation, and what `check` must then say.
MUTATIONS = {
    "consumer-without-readiness-probe": "no readinessProbe",
    "producer-without-liveness-probe": "no livenessProbe",
    "producer-without-security-context": "no securityContext",
    "consumer-without-limits": "no cpu in resources.limits",
    "producer-grace-too-short": "terminationGracePeriodSeconds 30 is not longer",
    "consumer-grace-too-short": "terminationGracePeriodSeconds 20 is not longer",
    "producer-readiness-probe-on-api-port": "readinessProbe asks port http, not the management port",
    "consumer-budget-without-unhealthy-pod-eviction-policy": "unhealthyPodEvictionPolicy is unset",
}


def main(argv):
    if len(argv) == 2 and argv[1] == "mutations":
        for mutation, expected in MUTATIONS.items():
            print(f"{mutation}\t{expected}")
    elif len(argv) == 3 and argv[1] == "mutate":
        objects = mutate(argv[2], documents(sys.stdin.read()))
        yaml.safe_dump_all(objects, sys.stdout, sort_keys=False)
    elif len(argv) == 5 and argv[1] == "check":
        objects = documents(Path(argv[2]).read_text())
        checker = Checker(objects, Path(argv[3]).read_text(), Path(argv[4]).read_text())
        errors = checker.check()
        for note in checker.notes:
            print(note)
        for error in errors:
            print(f"policy: {error}", file=sys.stderr)
        sys.exit(1 if errors else 0)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
