"""Consumers against partitions and Kafka: no more consumer replicas, nor a
KEDA maxReplicaCount, than the topics Job gives `orders` partitions (an
extra consumer would own none), and a KEDA Kafka trigger that reaches the
brokers as the services do (TLS, SASL mechanism, offset reset)."""

from .manifests import pod_spec
from .settings import environment


def check_scaling(checker):
    job = checker.find("Job", "orders-topics")
    partitions = None
    if job:
        for container in pod_spec(job)["containers"]:
            value = environment(checker, "Job/orders-topics", container).get("ORDERS_PARTITIONS")
            if value is not None:
                partitions = int(value)
    consumer = checker.find("Deployment", "consumer-service")
    if partitions and consumer and consumer["spec"].get("replicas", 1) > partitions:
        checker.fail(
            "Deployment/consumer-service",
            f"more replicas than the {partitions} partitions of orders",
        )
    for scaled in (obj for obj in checker.objects if obj.get("kind") == "ScaledObject"):
        where = f"ScaledObject/{scaled['metadata']['name']}"
        most = scaled["spec"].get("maxReplicaCount", 100)
        if partitions is None:
            checker.fail(
                where,
                "no orders-topics Job with ORDERS_PARTITIONS to compare maxReplicaCount with",
            )
        elif most > partitions:
            checker.fail(
                where,
                f"maxReplicaCount {most} is more than the {partitions} partitions of orders",
            )
        target = checker.find("Deployment", scaled["spec"]["scaleTargetRef"]["name"])
        if target is None:
            checker.fail(where, "its scaleTargetRef is not in the build")
            continue
        env = environment(checker, where, pod_spec(target)["containers"][0])
        for trigger in scaled["spec"].get("triggers", []):
            if trigger.get("type") == "kafka":
                check_kafka_trigger(checker, where, trigger, env)


def check_kafka_trigger(checker, where, trigger, env):
    metadata = trigger.get("metadata", {})
    for key, value in metadata.items():
        if key.endswith("FromEnv") and value not in env:
            checker.fail(where, f"{key}: {value} is not in the target's environment")
    protocol = env.get("KAFKA_SECURITY_PROTOCOL", "PLAINTEXT")
    want_tls = "enable" if protocol in ("SSL", "SASL_SSL") else "disable"
    if metadata.get("tls", "disable") != want_tls:
        checker.fail(where, f"tls is {metadata.get('tls', 'disable')}, the services use {protocol}")
    mechanism = env.get("KAFKA_SASL_MECHANISM") if protocol.startswith("SASL") else None
    want_sasl = {
        None: "none",
        "PLAIN": "plaintext",
        "SCRAM-SHA-256": "scram_sha256",
        "SCRAM-SHA-512": "scram_sha512",
    }.get(mechanism)
    if metadata.get("sasl", "none") != want_sasl:
        checker.fail(
            where,
            f"sasl is {metadata.get('sasl', 'none')}, the services use {mechanism or 'no SASL'}",
        )
    if want_sasl != "none" and not trigger.get("authenticationRef"):
        checker.fail(where, "SASL without an authenticationRef")
    reset = env.get("AUTO_OFFSET_RESET", "earliest")
    if metadata.get("offsetResetPolicy", "latest") != reset:
        checker.fail(where, f"offsetResetPolicy is not the consumer's AUTO_OFFSET_RESET ({reset})")
