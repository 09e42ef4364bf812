"""Breakages of a good build, each of which `check` must catch with the
message given: check-kubernetes.sh applies every one to the real build
output, so the proof runs on the manifests users deploy, not on a fixture."""

import sys

from .manifests import SERVICES

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
