"""Keeping the ready count through rollouts and node drains: each Deployment
rolls with maxUnavailable 0 and has a PodDisruptionBudget, and every budget
lets unhealthy pods go (AlwaysAllow)."""


def check_deployment(checker, where, deployment):
    strategy = deployment["spec"].get("strategy") or {}
    rolling = strategy.get("rollingUpdate") or {}
    if strategy.get("type", "RollingUpdate") != "RollingUpdate" or str(
        rolling.get("maxUnavailable", "25%")
    ) not in ("0", "0%"):
        checker.fail(
            where,
            "the rollout may drop below the ready count: use RollingUpdate with maxUnavailable 0",
        )
    labels = deployment["spec"]["template"]["metadata"].get("labels", {})
    covered = any(
        obj.get("kind") == "PodDisruptionBudget"
        and (obj["spec"].get("selector") or {}).get("matchLabels")
        and all(labels.get(k) == v for k, v in obj["spec"]["selector"]["matchLabels"].items())
        for obj in checker.objects
    )
    if not covered:
        checker.fail(where, "no PodDisruptionBudget selects its pods")


def check_disruption_budgets(checker):
    """With every pod unready (Kafka away: /readyz answers 503), the
    default policy, IfHealthyBudget, refuses every eviction, and a node
    drain waits for Kafka."""
    for budget in (obj for obj in checker.objects if obj.get("kind") == "PodDisruptionBudget"):
        policy = budget["spec"].get("unhealthyPodEvictionPolicy")
        if policy != "AlwaysAllow":
            checker.fail(
                f"PodDisruptionBudget/{budget['metadata']['name']}",
                f"unhealthyPodEvictionPolicy is {policy or 'unset, so IfHealthyBudget'}:"
                " set AlwaysAllow, or with every pod unready (Kafka away) a node drain waits for Kafka",
            )
