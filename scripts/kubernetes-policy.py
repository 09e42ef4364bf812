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
  services: /livez and /readyz), the Deployment rolls with
  maxUnavailable 0 and a PodDisruptionBudget covers it;
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

# Shutdown bounds that are not settings of the services: where each comes
# from, and the value in force (milliseconds).
PUBLISH_GUARD_MS = 1_000  # producer-service/src/publisher.rs: delivery timeout + 1 s
# librdkafka (rdkafka-sys 4.10.0+2.12.1): the final synchronous commit is one
# OffsetCommit request, which times out after socket.timeout.ms (default,
# CONFIGURATION.md); LeaveGroup has a fixed 5 s timeout (rdkafka_request.c).
SOCKET_TIMEOUT_DEFAULT_MS = 60_000
LEAVE_GROUP_MS = 5_000
LIBRDKAFKA_CHECKED = "2.12.1"
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

    def setting(self, where, service, env, name):
        """A service setting in milliseconds: the container's value, else
        the service's own default from its --help."""
        if name in env:
            value = env[name]
            if value is None:
                self.fail(
                    where,
                    f"{name} comes from a Secret or the downward API: cannot check the grace period",
                )
                return 0
        elif name in self.defaults[service]:
            value = self.defaults[service][name]
        else:
            self.fail(
                where,
                f"`{service} --help` has no default for {name}: the shutdown bound changed, check the arithmetic",
            )
            return 0
        try:
            return int(value)
        except ValueError:
            self.fail(where, f"{name}={value!r} is not a number of milliseconds")
            return 0

    @staticmethod
    def kafka_property(env, key, default):
        for entry in (env.get("KAFKA_PROPERTIES") or "").split(";"):
            name, _, value = entry.partition("=")
            if name.strip() == key and value.strip().isdigit():
                return int(value.strip())
        return default

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
                    self.check_probes(f"{where} container {container['name']}", container)
                    if container["name"] in SERVICES:
                        self.check_grace(where, spec, container)
        self.check_scaling()
        self.check_librdkafka_version()
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

    def check_probes(self, where, container):
        for probe, path in PROBE_PATHS.items():
            if probe not in container:
                self.fail(where, f"no {probe}")
            elif container["name"] in SERVICES:
                got = (container[probe].get("httpGet") or {}).get("path")
                if got != path:
                    self.fail(where, f"{probe} asks {got}, not {path}")

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

    def check_grace(self, where, spec, container):
        service = container["name"]
        env = self.environment(where, container)
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
                    "socket.timeout.ms (the final commit)",
                    self.kafka_property(env, "socket.timeout.ms", SOCKET_TIMEOUT_DEFAULT_MS),
                ),
                ("LeaveGroup", LEAVE_GROUP_MS),
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

    def check_librdkafka_version(self):
        lock = (ROOT / "Cargo.lock").read_text()
        found = re.search(r'name = "rdkafka-sys"\nversion = "[^"+]*\+([^"]+)"', lock)
        if found and found.group(1) != LIBRDKAFKA_CHECKED:
            self.notes.append(
                f"note: librdkafka is {found.group(1)}; the commit and LeaveGroup bounds were read from {LIBRDKAFKA_CHECKED}"
            )


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
        deployment["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] = 60
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
    "consumer-grace-too-short": "terminationGracePeriodSeconds 60 is not longer",
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
