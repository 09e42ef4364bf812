"""The policy scripts/kubernetes-policy.py checks `kustomize build` output
against, one module a topic:

- `manifests`: reading the build, the Dockerfile and the services' `--help`;
- `settings`: a service's settings as its container sees them (ConfigMaps
  over the `--help` defaults);
- `hardening`: resources and the restricted security context;
- `availability`: rollouts and PodDisruptionBudgets;
- `management`: probes, annotations and ServiceMonitors on the management
  port;
- `grace`: grace periods against the services' shutdown bounds;
- `scaling`: replicas and KEDA against the `orders` partitions and Kafka;
- `checker`: runs them all and collects what fails;
- `mutations`: the breakages `check` must catch.

The rule modules import `manifests` and `settings` only, and `checker`
imports the rule modules, so the layers read bottom-up.
"""
