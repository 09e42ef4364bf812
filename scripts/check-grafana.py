#!/usr/bin/env python3
"""Static checks of the Grafana provisioning of the `observability` compose
profile (Grafana cannot be run in CI: no registry, and no package to build it
from), run by scripts/check-compose.sh:

  - the provisioned datasource is Prometheus at the compose service
    `prometheus`, with a fixed uid, and it is the default one;
  - the dashboard provider reads the folder the compose files mount the
    dashboards into;
  - every dashboard parses, and every panel and every query in it uses the
    provisioned datasource by its uid (no other datasource, no
    ${DS_...} import variable left);
  - every query is valid PromQL (promtool) and names at least one metric,
    each of which the services export: a name given to a
    counter!/gauge!/histogram! macro (or its describe_*! twin) in the
    services' sources, histograms with their _bucket/_sum/_count series.

  scripts/check-grafana.py            the checks; exit 1 with every finding
  scripts/check-grafana.py --metrics  print the metric names the dashboards'
                                      queries name, one a line (compose-e2e
                                      asks the running Prometheus for them)

Needs python3-yaml (docker-compose depends on it) and promtool.
"""
import glob
import json
import os
import re
import subprocess
import sys
import tempfile

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GRAFANA = os.path.join(ROOT, "observability", "grafana")
COMPOSE_FILES = ["docker-compose.yml", "docker-compose.kraft.yml"]
SERVICE_SOURCES = ["producer-service/src", "consumer-service/src", "service-kit/src"]

findings = []


def finding(message):
    findings.append(message)


def load_yaml(path):
    with open(path, encoding="utf-8") as f:
        return yaml.safe_load(f)


def exported_metrics():
    """{name: kind} from the macros in the services' sources."""
    macro = re.compile(r'\b(?:describe_)?(counter|gauge|histogram)!\(\s*"([a-zA-Z_:][a-zA-Z0-9_:]*)"')
    metrics = {}
    for folder in SERVICE_SOURCES:
        for path in glob.glob(os.path.join(ROOT, folder, "**", "*.rs"), recursive=True):
            with open(path, encoding="utf-8") as f:
                for kind, name in macro.findall(f.read()):
                    metrics[name] = kind
    return metrics


def series_names(metrics):
    """Every series name a scrape can show: histograms add three."""
    names = set()
    for name, kind in metrics.items():
        names.add(name)
        if kind == "histogram":
            names.update(name + suffix for suffix in ("_bucket", "_sum", "_count"))
    return names


# Grafana's variables in a query, replaced by a duration for promtool.
GRAFANA_DURATIONS = re.compile(r"\$__(rate_interval|interval|range)\b|\$\{__(rate_interval|interval|range)\}")
# Clauses that name labels, not metrics: by (...), without (...), on (...),
# ignoring (...), group_left (...), group_right (...).
LABEL_CLAUSES = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or",
            "unless", "offset", "inf", "nan"}


def metric_names(expr):
    """The metric names a PromQL expression selects."""
    text = GRAFANA_DURATIONS.sub("1m", expr)
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', text)  # label values
    text = re.sub(r"\{[^}]*\}", " ", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", " ", text)  # ranges
    text = LABEL_CLAUSES.sub(" ", text)
    names = []
    for match in re.finditer(r"[a-zA-Z_:][a-zA-Z0-9_:]*", text):
        rest = text[match.end():].lstrip()
        if rest.startswith("("):
            continue  # a function or an aggregation
        if match.group(0).lower() in KEYWORDS:
            continue
        if match.start() > 0 and (text[match.start() - 1].isdigit() or text[match.start() - 1] == "."):
            continue  # the exponent or unit of a number
        names.append(match.group(0))
    return names


def panels_of(dashboard):
    """Every panel, those inside rows included."""
    for panel in dashboard.get("panels", []):
        yield panel
        yield from panel.get("panels", []) or []


def datasource_uid():
    """The provisioned Prometheus datasource's uid, after checking it."""
    files = sorted(glob.glob(os.path.join(GRAFANA, "provisioning", "datasources", "*.y*ml")))
    datasources = [d for path in files for d in (load_yaml(path) or {}).get("datasources", [])]
    prometheus = [d for d in datasources if d.get("type") == "prometheus"]
    if len(prometheus) != 1:
        finding(f"datasources: expected one of type prometheus, found {len(prometheus)}")
        return None
    source = prometheus[0]
    if not source.get("uid"):
        finding("datasource Prometheus: no fixed uid, so dashboards cannot refer to it")
    if source.get("url") != "http://prometheus:9090":
        finding(f"datasource Prometheus: url {source.get('url')!r}, not the compose service http://prometheus:9090")
    if source.get("isDefault") is not True:
        finding("datasource Prometheus: not the default datasource")
    if len([d for d in datasources if d.get("isDefault")]) > 1:
        finding("datasources: more than one is the default")
    return source.get("uid")


def dashboards_folder():
    """The folder the dashboard provider reads, checked against the mounts."""
    files = sorted(glob.glob(os.path.join(GRAFANA, "provisioning", "dashboards", "*.y*ml")))
    providers = [p for path in files for p in (load_yaml(path) or {}).get("providers", [])]
    if len(providers) != 1:
        finding(f"dashboard providers: expected one, found {len(providers)}")
        return
    path = (providers[0].get("options") or {}).get("path")
    for compose_file in COMPOSE_FILES:
        grafana = load_yaml(os.path.join(ROOT, compose_file))["services"]["grafana"]
        mounts = [v.split(":") for v in grafana.get("volumes", []) if isinstance(v, str)]
        sources = [m[0] for m in mounts if len(m) >= 2 and m[1] == path]
        if sources != ["./observability/grafana/dashboards"]:
            finding(f"{compose_file}: grafana does not mount ./observability/grafana/dashboards at {path}, where the provider reads")
        home = grafana.get("environment", {}).get("GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH")
        if home and not os.path.exists(os.path.join(GRAFANA, "dashboards", os.path.relpath(home, path))):
            finding(f"{compose_file}: the home dashboard {home} is not in observability/grafana/dashboards")


def check_dashboard(path, uid, exported, queries):
    name = os.path.relpath(path, ROOT)
    try:
        with open(path, encoding="utf-8") as f:
            dashboard = json.load(f)
    except ValueError as e:
        finding(f"{name}: not JSON: {e}")
        return
    if not dashboard.get("uid"):
        finding(f"{name}: no uid")
    if "${DS_" in json.dumps(dashboard):
        finding(f"{name}: an import variable ${{DS_...}} is left, which provisioning does not resolve")
    for panel in panels_of(dashboard):
        if panel.get("type") == "row":
            continue
        title = f"{name}: panel {panel.get('id')} {panel.get('title')!r}"
        source = panel.get("datasource")
        if not isinstance(source, dict) or source.get("type") != "prometheus" or source.get("uid") != uid:
            finding(f"{title}: datasource {source!r}, not the provisioned one (prometheus, uid {uid!r})")
        targets = panel.get("targets") or []
        if not targets:
            finding(f"{title}: no query")
        for target in targets:
            where = f"{title} query {target.get('refId')}"
            own = target.get("datasource")
            if own is not None and (not isinstance(own, dict) or own.get("uid") != uid):
                finding(f"{where}: datasource {own!r}, not the provisioned one (uid {uid!r})")
            expr = target.get("expr", "")
            if not expr.strip():
                finding(f"{where}: no expr")
                continue
            queries.append((where, expr))
            names = metric_names(expr)
            if not names:
                finding(f"{where}: names no metric: {expr}")
            for metric in names:
                if metric not in exported:
                    finding(f"{where}: {metric} is not a metric the services export: {expr}")


def promtool_check(queries):
    """Every query through promtool's PromQL parser, as recording rules."""
    rules = {"groups": [{"name": "dashboard", "rules": [
        {"record": f"dashboard:query_{i}", "expr": GRAFANA_DURATIONS.sub("1m", expr)}
        for i, (_, expr) in enumerate(queries)]}]}
    with tempfile.NamedTemporaryFile("w", suffix=".yml", delete=False) as f:
        yaml.safe_dump(rules, f)
    try:
        result = subprocess.run(["promtool", "check", "rules", f.name], capture_output=True, text=True)
    finally:
        os.unlink(f.name)
    if result.returncode != 0:
        finding("promtool: the dashboards' queries do not all parse:\n" + result.stdout + result.stderr)


def main():
    dashboards = sorted(glob.glob(os.path.join(GRAFANA, "dashboards", "*.json")))
    if "--metrics" in sys.argv[1:]:
        names = set()
        for path in dashboards:
            with open(path, encoding="utf-8") as f:
                for panel in panels_of(json.load(f)):
                    for target in panel.get("targets") or []:
                        names.update(metric_names(target.get("expr", "")))
        print("\n".join(sorted(names)))
        return 0
    exported = series_names(exported_metrics())
    if not exported:
        finding("no metric found in the services' sources: has the macro spelling changed?")
    uid = datasource_uid()
    dashboards_folder()
    if not dashboards:
        finding("no dashboard in observability/grafana/dashboards")
    queries = []
    for path in dashboards:
        check_dashboard(path, uid, exported, queries)
    if queries:
        promtool_check(queries)
    for message in findings:
        print(f"grafana: {message}", file=sys.stderr)
    if findings:
        return 1
    print(f"grafana provisioning: {len(dashboards)} dashboard(s), {len(queries)} queries on datasource "
          f"{uid!r}, every metric among the {len(exported)} series names the services export")
    return 0


if __name__ == "__main__":
    sys.exit(main())
