#!/usr/bin/env python3
"""check_compose.py: docker-compose.yml is valid (Debian's docker-compose config, no engine needed) and runs the six services as the README says."""
import subprocess
import sys

import yaml

SERVICES = ["gateway", "contacts", "loyalty", "feedback", "analytics", "notifier"]


def main(path):
    text = subprocess.run(["docker-compose", "-f", path, "config"], check=True,
                          capture_output=True, text=True).stdout
    conf = yaml.safe_load(text)
    services = conf["services"]
    problems = []
    if sorted(services) != sorted(SERVICES):
        problems.append(f"services are {sorted(services)}, expected {sorted(SERVICES)}")
    for name in SERVICES:
        s = services.get(name, {})
        if s.get("command") != [f"crm-{name}"]:
            problems.append(f"{name}: command is {s.get('command')}")
        if "healthcheck" not in s:
            problems.append(f"{name}: no healthcheck")
        volumes = [v if isinstance(v, str) else f"{v.get('source')}:{v.get('target')}" for v in s.get("volumes", [])]
        if not any(v.startswith(f"{name}-data:/var/lib/crm") for v in volumes):
            problems.append(f"{name}: its store is not on the named volume {name}-data ({volumes})")
        if name != "gateway" and s.get("ports"):
            problems.append(f"{name}: publishes ports {s['ports']}; only the gateway may")
        for dep, cond in (s.get("depends_on") or {}).items():
            if cond.get("condition") != "service_healthy":
                problems.append(f"{name}: depends on {dep} without waiting for its health")
        env = s.get("environment", {})
        if env.get("CRM_BIND_HOST") != "*":
            problems.append(f"{name}: CRM_BIND_HOST is not *")
    if not services.get("gateway", {}).get("ports"):
        problems.append("gateway: no published port")
    for p in problems:
        print("docker-compose.yml:", p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
