"""The part of the policy no generic engine knows: each service's
terminationGracePeriodSeconds must be longer than its preStop pause plus
the longest its shutdown can take, added up from the bounds the service
itself enforces, each read from its `--help` default or its ConfigMap."""

from .manifests import pre_stop_seconds
from .settings import milliseconds

# Shutdown bounds that are not settings of the services: where each comes
# from, and the value in force (milliseconds).
PUBLISH_GUARD_MS = 1_000  # producer-service/src/publisher.rs: delivery timeout + 1 s
# service-kit: the management listener's stop (management::STOP_TIMEOUT,
# 6 s) and the log writer's last write (writer::FINISH_TIMEOUT, 2 s), both
# bounded whatever the clients and the log sink do.
EXIT_MS = 6_000 + 2_000
# opentelemetry-otlp: exporting the last spans at exit, if an endpoint is set.
OTLP_TIMEOUT_DEFAULT_MS = 10_000


def shutdown_parts(checker, where, service, env):
    """(what, milliseconds) of each step the service's shutdown may wait on,
    one after the other."""

    def setting(name):
        return milliseconds(checker, where, service, env, name)

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
    parts.append(("the management listener and the log writer", EXIT_MS))
    if env.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        timeout = env.get("OTEL_EXPORTER_OTLP_TIMEOUT") or OTLP_TIMEOUT_DEFAULT_MS
        parts.append(("OTEL_EXPORTER_OTLP_TIMEOUT (the last spans)", int(timeout)))
    return parts


def check_grace(checker, where, spec, container, env):
    grace = spec.get("terminationGracePeriodSeconds", 30)
    pre_stop = pre_stop_seconds(container)
    if pre_stop is None:
        checker.fail(
            where,
            "preStop is neither an exec `sleep N` nor `sleep: {seconds: N}`: cannot add it up",
        )
        pre_stop = 0
    parts = shutdown_parts(checker, where, container["name"], env)
    bound_ms = pre_stop * 1000 + sum(ms for _, ms in parts)
    arithmetic = " + ".join(
        [f"preStop {pre_stop} s"] + [f"{name} {ms / 1000:g} s" for name, ms in parts]
    )
    if grace * 1000 <= bound_ms:
        checker.fail(
            where,
            f"terminationGracePeriodSeconds {grace} is not longer than {arithmetic} = {bound_ms / 1000:g} s",
        )
    else:
        checker.notes.append(f"{where}: grace {grace} s > {arithmetic} = {bound_ms / 1000:g} s")
