"""Reading what the policy is checked against: the objects of a build, the
Dockerfile's user, and a service's defaults from its `--help` text."""

import re
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent.parent
SERVICES = ("producer-service", "consumer-service")


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
