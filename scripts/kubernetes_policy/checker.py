"""Runs every rule of the policy over one build, in a fixed order, and
collects the failures (`errors`) and the grace arithmetic that passed
(`notes`). The rule modules report through `fail` and look objects up with
`find`; the management ports the probes found are kept here for the
ServiceMonitor check that comes after."""

from . import availability, grace, hardening, management, scaling, settings
from .manifests import SERVICES, containers, dockerfile_user, help_defaults, pod_spec


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

    def check(self):
        for obj in self.objects:
            spec = pod_spec(obj)
            if spec is None:
                continue
            where = f"{obj['kind']}/{obj['metadata']['name']}"
            hardening.check_pod(self, where, spec)
            for container in containers(spec):
                hardening.check_container(
                    self, f"{where} container {container['name']}", spec, container
                )
            if obj["kind"] == "Deployment":
                self.check_deployment(where, obj, spec)
        availability.check_disruption_budgets(self)
        management.check_service_monitors(self)
        scaling.check_scaling(self)
        return self.errors

    def check_deployment(self, where, obj, spec):
        availability.check_deployment(self, where, obj)
        for container in spec.get("containers", []):
            in_container = f"{where} container {container['name']}"
            if container["name"] not in SERVICES:
                management.check_probes(self, in_container, container)
                continue
            env = settings.environment(self, where, container)
            port = settings.management_port(self, where, container["name"], env)
            self.management_ports[(obj["metadata"]["name"], container["name"])] = port
            management.check_probes(self, in_container, container, port)
            management.check_annotations(self, where, obj, port)
            grace.check_grace(self, where, spec, container, env)
