"""What every pod and container of the build keeps, the services and the
topics Job alike: CPU and memory requests and limits, no host namespaces,
and the restricted security context (non-root, for the services the
Dockerfile's own user; read-only root filesystem; every capability dropped;
no privilege escalation; RuntimeDefault seccomp)."""

from .manifests import SERVICES


def check_pod(checker, where, spec):
    for field in ("hostNetwork", "hostPID", "hostIPC"):
        if spec.get(field):
            checker.fail(where, f"{field} is set")
    pod_context = spec.get("securityContext") or {}
    private = [
        volume["name"]
        for volume in spec.get("volumes", [])
        if "secret" in volume and not volume["secret"].get("defaultMode", 0o644) & 0o004
    ]
    if private and "fsGroup" not in pod_context:
        checker.fail(
            where,
            f"Secret volumes {private} are not world-readable and the pod sets no fsGroup:"
            " the non-root user cannot read them",
        )


def check_container(checker, where, spec, container):
    resources = container.get("resources") or {}
    for kind in ("requests", "limits"):
        for resource in ("cpu", "memory"):
            if resource not in (resources.get(kind) or {}):
                checker.fail(where, f"no {resource} in resources.{kind}")

    pod = spec.get("securityContext") or {}
    own = container.get("securityContext")
    if not own:
        checker.fail(where, "no securityContext")
        own = {}

    def effective(key):
        return own.get(key, pod.get(key))

    if effective("runAsNonRoot") is not True:
        checker.fail(where, "runAsNonRoot is not true")
    uid = effective("runAsUser")
    if container["name"] in SERVICES and uid != checker.uid:
        checker.fail(where, f"runAsUser is {uid}, not the Dockerfile's user {checker.uid}")
    elif uid is None or uid == 0:
        checker.fail(where, f"runAsUser is {uid}: set a non-root uid")
    if own.get("readOnlyRootFilesystem") is not True:
        checker.fail(where, "readOnlyRootFilesystem is not true")
    if own.get("allowPrivilegeEscalation") is not False:
        checker.fail(where, "allowPrivilegeEscalation is not false")
    if own.get("privileged"):
        checker.fail(where, "privileged")
    capabilities = own.get("capabilities") or {}
    if "ALL" not in (capabilities.get("drop") or []):
        checker.fail(where, "capabilities.drop does not include ALL")
    if capabilities.get("add"):
        checker.fail(where, f"capabilities.add: {capabilities['add']}")
    seccomp = (effective("seccompProfile") or {}).get("type")
    if seccomp != "RuntimeDefault":
        checker.fail(where, f"seccompProfile.type is {seccomp}, not RuntimeDefault")
