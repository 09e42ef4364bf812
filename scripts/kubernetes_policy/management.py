"""The services' management listener (MANAGEMENT_ADDR: /livez, /readyz,
/metrics) is what the probes ask and what Prometheus scrapes: the container
port named `management` must be MANAGEMENT_ADDR's port, and the probes, the
prometheus.io/port annotation and the ServiceMonitors must lead there.
Other containers of a Deployment need both probes, anywhere."""

from .manifests import SERVICES, container_port, pod_spec

PROBE_PATHS = {"livenessProbe": "/livez", "readinessProbe": "/readyz"}
MANAGEMENT_PORT_NAME = "management"


def check_probes(checker, where, container, management=None):
    """Both probes; for the services, their paths on the management
    port: the container port named `management`, which must be the
    port of MANAGEMENT_ADDR (`management` is None for other
    containers)."""
    service = container["name"] in SERVICES
    if service and management is not None:
        named = container_port(container, MANAGEMENT_PORT_NAME)
        if named != management:
            checker.fail(
                where,
                f"container port {MANAGEMENT_PORT_NAME!r} is {named}, not MANAGEMENT_ADDR's port {management}",
            )
    for probe, path in PROBE_PATHS.items():
        if probe not in container:
            checker.fail(where, f"no {probe}")
        elif service:
            http_get = container[probe].get("httpGet") or {}
            got = http_get.get("path")
            if got != path:
                checker.fail(where, f"{probe} asks {got}, not {path}")
            port = http_get.get("port")
            if management is not None and container_port(container, port) != management:
                checker.fail(
                    where,
                    f"{probe} asks port {port}, not the management port {management} (MANAGEMENT_ADDR)",
                )


def check_annotations(checker, where, deployment, management):
    """A Prometheus that discovers pods by annotation must scrape the
    management port: the API port has no /metrics."""
    annotations = deployment["spec"]["template"]["metadata"].get("annotations") or {}
    port = annotations.get("prometheus.io/port")
    if management is not None and port is not None and port != str(management):
        checker.fail(
            where,
            f"prometheus.io/port is {port}, not the management port {management} (MANAGEMENT_ADDR)",
        )


def check_service_monitors(checker):
    """Each ServiceMonitor endpoint names a port of the Services it
    selects, and that port leads to the services' management port."""
    for monitor in (obj for obj in checker.objects if obj.get("kind") == "ServiceMonitor"):
        where = f"ServiceMonitor/{monitor['metadata']['name']}"
        wanted = (monitor["spec"].get("selector") or {}).get("matchLabels") or {}
        services = [
            obj
            for obj in checker.objects
            if obj.get("kind") == "Service"
            and wanted
            and all(obj["metadata"].get("labels", {}).get(k) == v for k, v in wanted.items())
        ]
        if not services:
            checker.fail(where, "selects no Service of the build")
        for endpoint in monitor["spec"].get("endpoints", []):
            name = endpoint.get("port")
            ports = [
                (service, port)
                for service in services
                for port in service["spec"].get("ports", [])
                if port.get("name") == name
            ]
            if not ports:
                checker.fail(where, f"no Service it selects has a port named {name}")
            for service, port in ports:
                check_monitored_port(checker, where, service, port)


def check_monitored_port(checker, where, service, port):
    selector = service["spec"].get("selector") or {}
    target = port.get("targetPort", port["port"])
    for deployment in (obj for obj in checker.objects if obj.get("kind") == "Deployment"):
        labels = deployment["spec"]["template"]["metadata"].get("labels", {})
        if not selector or any(labels.get(k) != v for k, v in selector.items()):
            continue
        for container in pod_spec(deployment)["containers"]:
            if container["name"] not in SERVICES:
                continue
            key = (deployment["metadata"]["name"], container["name"])
            management = checker.management_ports.get(key)
            got = container_port(container, target)
            if management is not None and got != management:
                checker.fail(
                    where,
                    f"Service/{service['metadata']['name']} port {port.get('name')} leads to"
                    f" {container['name']}'s port {got}, not the management port {management}",
                )
