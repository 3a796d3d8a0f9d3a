#!/usr/bin/env python3
"""Checks the pilot's compose file offline (called by deploy/k8s/check.sh):

- `docker-compose config` parses it against the Compose schema and resolves it (no engine is
  needed for that);
- every nianbao service runs a binary the image installs, with a NIANBAO_CONFIG file that exists
  in ./config and whose keys are settings of that service (deploy/config/*.toml);
- every file it mounts from this folder exists;
- a broken copy (an unknown key) must be refused, so that the check cannot pass by accepting
  anything.
"""

from __future__ import annotations

import pathlib
import shutil
import subprocess
import sys
import tempfile
import tomllib

import yaml

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT / "deploy" / "k8s"))
import validate  # noqa: E402  (deploy/k8s/validate.py: the Dockerfile and config-key checks)

NIANBAO_SERVICES = ["ingest", "extraction", "validation", "notification", "console", "crawler"]


def compose_config(folder: pathlib.Path) -> tuple[int, str, str]:
    proc = subprocess.run(
        ["docker-compose", "--project-directory", str(folder), "-f", str(folder / "compose.yaml"), "config"],
        capture_output=True, text=True, cwd=folder,
    )
    return proc.returncode, proc.stdout, proc.stderr


def main() -> int:
    problems = validate.Problems()
    code, out, err = compose_config(HERE)
    if code != 0:
        print(f"INVALID compose.yaml: docker-compose config: {err.strip()}")
        return 1
    resolved = yaml.safe_load(out)
    services = resolved["services"]
    installed = validate.check_dockerfile(validate.Problems()) or set()
    for name in NIANBAO_SERVICES:
        svc = services.get(name)
        if not svc:
            problems.add("compose.yaml", f"no service {name}")
            continue
        command = svc.get("command") or []
        if command[:1] != ["/usr/local/lib/nianbao/service.sh"] or f"nianbao-{command[1]}" not in installed:
            problems.add(f"compose.yaml {name}", f"command {command} does not start an installed binary")
        config = (svc.get("environment") or {}).get("NIANBAO_CONFIG", "")
        local = HERE / "config" / pathlib.Path(config).name
        if not config.startswith("/etc/nianbao/config/") or not local.exists():
            problems.add(f"compose.yaml {name}", f"NIANBAO_CONFIG={config!r} is not a file of ./config")
            continue
        defaults = tomllib.loads((ROOT / "deploy" / "config" / f"{name}.toml").read_text())
        for key in validate.unknown_keys(tomllib.loads(local.read_text()), defaults):
            problems.add(f"config/{local.name}", f"{key} is not a setting of {name}")
        if name != "crawler" and not svc.get("healthcheck"):
            problems.add(f"compose.yaml {name}", "no healthcheck")
    for name in ("init", "rabbitmq", "postgres", "broker-setup", "broker-users"):
        if name not in services:
            problems.add("compose.yaml", f"no service {name}")
    for name, svc in services.items():
        for vol in svc.get("volumes") or []:
            source = vol.get("source") if isinstance(vol, dict) else str(vol).split(":")[0]
            kind = vol.get("type") if isinstance(vol, dict) else None
            if kind == "bind" or (source or "").startswith("/"):
                path = pathlib.Path(source)
                if not path.exists() and path.name != "reports":
                    problems.add(f"compose.yaml {name}", f"mounts {source}, which does not exist")
    for p in problems.items:
        print(f"INVALID {p}")
    if problems.items:
        return 1
    print(f"compose.yaml valid: {len(services)} services ({', '.join(services)})")

    # Self-test: an unknown key and a dangling dependency must be refused by docker-compose.
    for description, old, new in [
        ("a misspelt key", "  stop_grace_period: 90s", "  stop_grace_periods: 90s"),
        ("a dependency on a missing service", "      rabbitmq:\n        condition: service_healthy",
         "      rabbitmqq:\n        condition: service_healthy"),
    ]:
        with tempfile.TemporaryDirectory() as tmp:
            copy = pathlib.Path(tmp) / "compose"
            shutil.copytree(HERE, copy)
            text = (copy / "compose.yaml").read_text()
            if old not in text:
                print(f"compose self-test: {description}: the text to break is gone; update check.py")
                return 1
            (copy / "compose.yaml").write_text(text.replace(old, new, 1))
            code, _, err = compose_config(copy)
            if code == 0:
                print(f"compose self-test: {description}: NOT refused")
                return 1
            print(f"compose self-test: {description}: refused ({err.strip().splitlines()[0][:120]})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
