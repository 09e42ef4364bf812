#!/usr/bin/env python3
"""The rules every manifest built from deploy/kubernetes keeps, checked on
`kustomize build` output by scripts/check-kubernetes.sh:

    kubernetes-policy.py check BUILT_YAML PRODUCER_HELP CONSUMER_HELP
    kubernetes-policy.py mutations
    kubernetes-policy.py mutate NAME <BUILT_YAML >MUTATED_YAML

`check` fails (exit 1, one line per broken rule) unless
- every container has CPU and memory requests and limits, and the restricted
  security context: non-root (the Dockerfile's user for the two services),
  read-only root filesystem, every capability dropped, no privilege
  escalation, RuntimeDefault seccomp (kubernetes_policy/hardening.py);
- every container of a Deployment has a liveness and a readiness probe (the
  services: /livez and /readyz, on the container port named `management`,
  the port of the service's MANAGEMENT_ADDR), and the services'
  prometheus.io/port annotations and the ServiceMonitors, if any, scrape
  that port too (management.py);
- each Deployment rolls with maxUnavailable 0 and a PodDisruptionBudget
  covers it; every budget sets unhealthyPodEvictionPolicy: AlwaysAllow
  (availability.py);
- each service's terminationGracePeriodSeconds is longer than its preStop
  pause plus the longest its shutdown can take, computed from its own
  defaults (its `--help` text, PRODUCER_HELP and CONSUMER_HELP) overridden
  by what its ConfigMaps set (grace.py, settings.py);
- the KEDA ScaledObject, if any, asks for no more consumers than the topics
  Job gives `orders` partitions, and reaches Kafka as the services do
  (scaling.py).

`mutations` lists the breakages `mutate` applies, each with what `check`
must then say, so that check-kubernetes.sh proves `check` notices
(mutations.py). PyYAML is the one dependency (the venv of
check-kubernetes.sh has it).

Why Python and not Open Policy Agent: OPA v1.22.4 builds from the Go proxy
in 97 s on a cold cache here (2 cores, 970 MB of modules and build cache,
a 60 MB binary), which CI could afford; but OPA ships no rules, so the
generic checks of hardening.py and availability.py (about 100 lines) would
be rewritten in Rego, while everything else (a container's environment
from its ConfigMaps, the management port, the grace arithmetic, KEDA
against the services' Kafka settings) reads the services' own `--help`
defaults and would stay Python. One policy in two languages, with a second
tool to pin, is harder to read than one package by topic; and the
mutations already run on the real build output, which `opa test` on
fixtures would not replace.
"""

import sys
from pathlib import Path

import yaml

# The package sits in the checkout: no __pycache__ left in it.
sys.dont_write_bytecode = True

from kubernetes_policy.checker import Checker  # noqa: E402
from kubernetes_policy.manifests import documents  # noqa: E402
from kubernetes_policy.mutations import MUTATIONS, mutate  # noqa: E402


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
