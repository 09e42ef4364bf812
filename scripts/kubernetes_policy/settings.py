"""A service's settings as its container sees them: the variables Kubernetes
sets (envFrom, then env over it), else the service's own `--help` default.
The grace period, the probes and the KEDA trigger are all checked against
these, so a ConfigMap edit is checked the way the service would read it.

Each function takes the `Checker` (`checker.find`, `checker.fail`,
`checker.defaults`) and reports what it cannot read as a failure."""


def environment(checker, where, container):
    """The container's variables as Kubernetes sets them: envFrom first,
    env over it. Values from Secrets or the downward API are None."""
    env = {}
    for source in container.get("envFrom", []):
        prefix = source.get("prefix", "")
        if "configMapRef" in source:
            name = source["configMapRef"]["name"]
            config_map = checker.find("ConfigMap", name)
            if config_map is None:
                checker.fail(where, f"ConfigMap {name} is not in the build")
                continue
            for key, value in config_map.get("data", {}).items():
                env[prefix + key] = value
        elif "secretRef" in source:
            secret = checker.find("Secret", source["secretRef"]["name"])
            for key in (secret or {}).get("data", {}) or {}:
                env[prefix + key] = None
    for variable in container.get("env", []):
        if "value" in variable:
            env[variable["name"]] = variable["value"]
        elif "configMapKeyRef" in variable.get("valueFrom", {}):
            ref = variable["valueFrom"]["configMapKeyRef"]
            config_map = checker.find("ConfigMap", ref["name"]) or {}
            env[variable["name"]] = config_map.get("data", {}).get(ref["key"])
        else:
            env[variable["name"]] = None
    return env


def value(checker, where, service, env, name, purpose, changed):
    """A service setting as text: the container's value, else the
    service's own default from its --help; None if neither is known."""
    if name in env:
        if env[name] is None:
            checker.fail(
                where,
                f"{name} comes from a Secret or the downward API: cannot check {purpose}",
            )
        return env[name]
    if name in checker.defaults[service]:
        return checker.defaults[service][name]
    checker.fail(where, f"`{service} --help` has no default for {name}: {changed}")
    return None


def milliseconds(checker, where, service, env, name):
    """A service setting in milliseconds, for the grace period."""
    text = value(
        checker,
        where,
        service,
        env,
        name,
        "the grace period",
        "the shutdown bound changed, check the arithmetic",
    )
    if text is None:
        return 0
    try:
        return int(text)
    except ValueError:
        checker.fail(where, f"{name}={text!r} is not a number of milliseconds")
        return 0


def management_port(checker, where, service, env):
    """The port of the service's MANAGEMENT_ADDR (`0.0.0.0:9080`,
    `[::]:9080`), where /livez, /readyz and /metrics are."""
    text = value(
        checker,
        where,
        service,
        env,
        "MANAGEMENT_ADDR",
        "the probes' port",
        "the management listener changed, check the probes",
    )
    if text is None:
        return None
    port = text.rpartition(":")[2]
    if not port.isdigit():
        checker.fail(where, f"MANAGEMENT_ADDR={text!r} has no port")
        return None
    return int(port)
