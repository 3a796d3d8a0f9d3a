#!/usr/bin/env python3
"""Rehearses the Kubernetes deployment without a cluster, as root, on this machine: the rendered
overlay's own Job and Deployments, run as processes the way a kubelet would run them.

- The Secrets are made by make-secrets.sh, as an operator would; the two the operators make are
  stood in for (the broker's administrator, `nianbao-broker-default-user`; CloudNativePG's CA,
  `nianbao-db-ca`, with a certificate for `nianbao-db-rw`).
- The broker and the database are Debian's RabbitMQ and PostgreSQL, configured as the
  RabbitmqCluster (TLS only, management over HTTPS, the administrator) and the CloudNativePG
  Cluster and Databases (the bootstrap database and owner, the managed roles with their Secrets'
  passwords, the Database objects) ask.
- Every container of the Job `nianbao-broker-setup` (init containers in order, then the main one)
  and of the four Deployments runs with exactly the rendered `command`, `env` (secretKeyRef and
  `$(VAR)` expansion as Kubernetes does them) and `volumeMounts` (ConfigMaps and Secrets written
  as the kubelet projects them, `items` honoured, emptyDirs), in a mount namespace of its own,
  as the pod's `runAsUser`.
- The readiness probes (HTTP GET on the named port; the console's over HTTPS, its certificate
  verified with the CA make-secrets.sh wrote) must pass; then a sample report is submitted
  with the operator's token to `nianbao-ingest:50051` and must reach `notified`; then an office
  clerk's credential, issued into credentials.toml as an operator would (the Secret
  `nianbao-credentials` updated as `kubectl apply` would, the kubelet refreshing the file), logs in
  to the console at `nianbao-console:8443` and gets the overview page, which the console fills
  from ingest and notification with the clerk's token.

All of it in a private network namespace, where the Services' names resolve to 127.0.0.1 and
their ports are free. What it cannot show: the images, the operators themselves, KEDA, the
NetworkPolicies, RabbitMQ 4.1 (Debian's is 3.10: so `default_queue_type` is left out).

    deploy/k8s/rehearse.py --bin target/debug [--kubectl PATH]
"""

from __future__ import annotations

import argparse
import base64
import os
import pathlib
import re
import shutil
import subprocess
import sys
import ssl
import time
import urllib.request

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
OVERLAY = ROOT / "deploy" / "k8s" / "overlays" / "chujiang"
NAMESPACE = "nianbao-chujiang"
BASE = pathlib.Path("/opt/nianbao-rehearsal")  # a tmpfs inside the namespace
MOUNT_POINTS = [str(BASE), "/etc/nianbao", "/var/lib/nianbao"]
HOSTS = ["nianbao-broker", f"nianbao-broker.{NAMESPACE}.svc", "nianbao-db-rw", "nianbao-ingest",
         "nianbao-validation", "nianbao-notification", "nianbao-extraction", "nianbao-console"]
SERVICES = ["nianbao-ingest", "nianbao-extraction", "nianbao-validation", "nianbao-notification",
            "nianbao-console"]

procs: list[subprocess.Popen] = []


def log_tail(path, lines=20):
    """The end of a process's log without backtrace frames (RUST_BACKTRACE may be set): the error
    or panic message comes before them."""
    kept = [l for l in path.read_text(errors="replace").splitlines()
            if not re.match(r"^ +([0-9]+: | *at )", l)]
    return "\n".join(kept[-lines:])


def run(*cmd, **kw):
    return subprocess.run([str(c) for c in cmd], check=True, **kw)


def step(text):
    print(f"== {text}", flush=True)


def outside(args):
    if os.geteuid() != 0:
        sys.exit("rehearse.py: run as root (namespaces, file owners)")
    run("bash", ROOT / "deploy/scripts/rabbitmq.sh", "install", stdout=subprocess.DEVNULL)
    run("bash", ROOT / "deploy/scripts/postgres.sh", "install", stdout=subprocess.DEVNULL)
    # Mount points for the namespace's tmpfs (empty folders, removed again if this run made them):
    # every path a container mounts something at lies below one of them, /tmp or /work.
    made = [d for d in MOUNT_POINTS if not os.path.exists(d)]
    for d in made:
        os.makedirs(d)
    env = dict(os.environ, NIANBAO_REHEARSAL_INSIDE="1")
    try:
        code = subprocess.call(["unshare", "--mount", "--net", "--propagation", "private", "--",
                                sys.executable, __file__, *sys.argv[1:]], env=env)
    finally:
        for d in reversed(made):
            try:
                os.rmdir(d)
            except OSError as e:
                print(f"rehearse.py: could not remove {d}: {e}")
    sys.exit(code)


def secret_files(doc) -> dict[str, bytes]:
    out = {k: base64.b64decode(v) for k, v in (doc.get("data") or {}).items()}
    out.update({k: v.encode() for k, v in (doc.get("stringData") or {}).items()})
    return out


def inside(args):
    bin_src = pathlib.Path(args.bin).resolve()
    kubectl = args.kubectl
    run("ip", "link", "set", "lo", "up")
    # Every pod shares this one network namespace here (a cluster gives each its own): client
    # ports stay above every port a container listens on, so none is taken before it binds.
    pathlib.Path("/proc/sys/net/ipv4/ip_local_port_range").write_text("61000 65535\n")
    for d in MOUNT_POINTS:
        run("mount", "-t", "tmpfs", "tmpfs", d)
        os.chmod(d, 0o755)
    hosts = BASE / "hosts"
    hosts.write_text(pathlib.Path("/etc/hosts").read_text() + "127.0.0.1 " + " ".join(HOSTS) + "\n")
    run("mount", "--bind", hosts, "/etc/hosts")
    bindir = BASE / "bin"
    bindir.mkdir()
    for b in ["nianbao", *SERVICES]:
        shutil.copy2(bin_src / b, bindir / b)
    os.environ["PATH"] = f"{bindir}:{os.environ['PATH']}"

    step("the overlay rendered, the Secrets made by make-secrets.sh")
    docs = [d for d in yaml.safe_load_all(subprocess.run(
        [kubectl, "kustomize", OVERLAY], check=True, capture_output=True, text=True).stdout) if d]
    out = BASE / "operator"
    run("bash", ROOT / "deploy/k8s/make-secrets.sh", "--namespace", NAMESPACE, "--out", out,
        "--nianbao", bindir / "nianbao", env=dict(os.environ, KUBECTL=kubectl), stdout=subprocess.DEVNULL)
    secrets = {d["metadata"]["name"]: secret_files(d)
               for d in yaml.safe_load_all((out / "secrets.yaml").read_text()) if d}
    # What the operators would make.
    admin_pw = os.urandom(12).hex()
    secrets["nianbao-broker-default-user"] = {"username": b"nianbao-admin", "password": admin_pw.encode()}
    dbpki = BASE / "db-pki"
    run("nianbao", "certs", "init", "--dir", dbpki, "--host", "nianbao-db-rw", stdout=subprocess.DEVNULL)
    secrets["nianbao-db-ca"] = {"ca.crt": (dbpki / "ca.pem").read_bytes(), "ca.key": (dbpki / "ca-key.pem").read_bytes()}
    configmaps = {d["metadata"]["name"]: d.get("data") or {} for d in docs if d["kind"] == "ConfigMap"}

    step("the broker, as the RabbitmqCluster asks (TLS only, management over HTTPS)")
    broker(docs, secrets)
    step("the database, as the CloudNativePG Cluster and Databases ask")
    database(docs, secrets, dbpki)

    job = next(d for d in docs if d["kind"] == "Job" and d["metadata"]["name"] == "nianbao-broker-setup")
    step("the Job nianbao-broker-setup, container by container")
    pod = job["spec"]["template"]
    for c in pod["spec"].get("initContainers", []) + pod["spec"]["containers"]:
        p = start(pod, c, configmaps, secrets, f"job-{c['name']}", shared="job")
        code = p.wait(timeout=120)
        print(f"   {c['name']}: exit {code}")
        if code != 0:
            print(log_tail(BASE / f"job-{c['name']}.log"))
            return 1

    step("the Deployments, with their readiness probes")
    deployments = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Deployment"}
    for name in SERVICES:
        pod = deployments[name]["spec"]["template"]
        for c in pod["spec"]["containers"]:
            procs.append(start(pod, c, configmaps, secrets, name))
    for name in SERVICES:
        c = deployments[name]["spec"]["template"]["spec"]["containers"][0]
        probe = c["readinessProbe"]["httpGet"]
        port = next(p["containerPort"] for p in c["ports"] if p["name"] == probe["port"])
        scheme = probe.get("scheme", "HTTP").lower()
        context = None
        if scheme == "https":
            # Stricter than the kubelet (which does not verify): the Service's name and the CA of
            # the console's Secret, as the edge would check its backend.
            context = ssl.create_default_context(cafile=str(out / "pki/console/ca.pem"))
            url = f"https://{name}:{port}{probe['path']}"
        else:
            url = f"http://127.0.0.1:{port}{probe['path']}"
        for _ in range(300):
            try:
                with urllib.request.urlopen(url, timeout=2, context=context) as r:
                    if r.status == 200:
                        break
            except Exception:
                pass
            time.sleep(0.3)
        else:
            print(f"{name}: {url} never answered 200")
            print(log_tail(BASE / f"{name}.log"))
            return 1
        print(f"   {name}: ready ({scheme.upper()} {probe['path']} on {probe['port']} = 200)")

    step("a sample report, submitted with the operator's token")
    env = dict(os.environ, NIANBAO_INGEST_URL="https://nianbao-ingest:50051",
               NIANBAO_NOTIFICATION_URL="https://nianbao-notification:50054",
               NIANBAO_CA=str(out / "pki/services/ca.pem"), NIANBAO_TOKEN_FILE=str(out / "tokens/operator"))
    sample = sorted((ROOT / "deploy/samples").glob("*.txt"))[0]
    rid = subprocess.run(["nianbao", "submit", str(sample)], env=env, check=True,
                         capture_output=True, text=True).stdout.split()[0]
    run("nianbao", "wait", rid, "--until", "notified", "--timeout-secs", "120", env=env, stdout=subprocess.DEVNULL)
    print(subprocess.run(["nianbao", "status", rid], env=env, check=True, capture_output=True, text=True).stdout.strip())

    step("an office clerk logs in to the console and reads the overview")
    if console_login(deployments, out) != 0:
        return 1
    print("kubernetes rehearsal: passed")
    return 0


def console_login(deployments, out) -> int:
    """Issues an office credential as the operator would (into the credentials.toml the Secret is
    made from), updates the projected file of every pod that mounts nianbao-credentials (the
    console, ingest, notification, …) as the kubelet would after `kubectl apply`, then logs in over
    HTTPS and reads the overview."""
    dep = deployments["nianbao-console"]
    c = dep["spec"]["template"]["spec"]["containers"][0]
    port = next(p["containerPort"] for p in c["ports"] if p["name"] == "https")
    directory = OVERLAY / "directory.toml"
    token = subprocess.run(["nianbao", "credentials", "issue", "--file", str(out / "credentials.toml"),
                            "--directory", str(directory), "--office", "390202", "--name", "王科长"],
                           check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1]
    for name in SERVICES:
        for v in deployments[name]["spec"]["template"]["spec"].get("volumes") or []:
            if (v.get("secret") or {}).get("secretName") != "nianbao-credentials":
                continue
            projected = BASE / "volumes" / name / v["name"] / "credentials.toml"
            tmp = projected.with_suffix(".new")
            shutil.copy(out / "credentials.toml", tmp)
            os.chmod(tmp, 0o644)
            os.replace(tmp, projected)
    base = f"https://nianbao-console:{port}"
    ca = out / "pki/console/ca.pem"
    jar = BASE / "console-cookies"
    body = BASE / "console-overview.html"
    # The console rereads the credentials file when it changes; give it a few tries.
    for _ in range(20):
        got = subprocess.run(["curl", "--silent", "--show-error", "--cacert", str(ca), "--cookie-jar", str(jar),
                              "--cookie", str(jar), "--location", "--data-urlencode", f"token={token}",
                              "-o", str(body), "-w", "%{http_code} %{url_effective}", f"{base}/login"],
                             capture_output=True, text=True)
        if got.stdout == f"200 {base}/":
            break
        time.sleep(0.5)
    page = body.read_text(errors="replace") if body.exists() else ""
    if got.stdout != f"200 {base}/" or "总览" not in page or 'class="err"' in page:
        print(f"   console: login and overview = {got.stdout!r} {got.stderr.strip()}")
        print(re.findall(r'class="err">[^<]*', page)[:3])
        print(log_tail(BASE / "nianbao-console.log"))
        return 1
    print(f"   nianbao-console: an office clerk (390202) logged in, overview = 200 (from ingest and notification)")
    return 0


def broker(docs, secrets):
    rc = next(d for d in docs if d["kind"] == "RabbitmqCluster")
    tls = secrets[rc["spec"]["tls"]["secretName"]]
    d = BASE / "rabbitmq"
    (d / "conf.d").mkdir(parents=True)
    for key in ("tls.crt", "tls.key"):
        (d / key).write_bytes(tls[key])
    user = secrets["nianbao-broker-default-user"]
    conf = [
        "listeners.tcp = none" if rc["spec"]["tls"].get("disableNonTLSListeners") else "",
        "listeners.ssl.default = 5671",
        f"ssl_options.certfile = {d}/tls.crt",
        f"ssl_options.keyfile = {d}/tls.key",
        "management.ssl.port = 15671",
        f"management.ssl.certfile = {d}/tls.crt",
        f"management.ssl.keyfile = {d}/tls.key",
        f"default_user = {user['username'].decode()}",
        f"default_pass = {user['password'].decode()}",
        "loopback_users = none",
    ]
    # The cluster's additionalConfig, less what Debian's RabbitMQ 3.10 does not know.
    for line in rc["spec"]["rabbitmq"].get("additionalConfig", "").splitlines():
        line = line.strip()
        if line and not line.startswith("#") and not line.startswith("default_queue_type"):
            conf.append(line)
    (d / "conf.d/90-nianbao.conf").write_text("\n".join(c for c in conf if c) + "\n")
    plugins = ["rabbitmq_management", *rc["spec"]["rabbitmq"].get("additionalPlugins", [])]
    (d / "enabled_plugins").write_text(f"[{','.join(plugins)}].\n")
    (d / "env.conf").write_text("")
    (d / "home").mkdir()
    sbin = pathlib.Path([l for l in subprocess.run(["dpkg", "-L", "rabbitmq-server"], capture_output=True,
                                                    text=True).stdout.splitlines()
                         if re.search(r"rabbitmq_server-.*/sbin/rabbitmqctl$", l)][0]).parent
    env = dict(os.environ, HOME=str(d / "home"), RABBITMQ_NODENAME="rabbit@localhost",
               RABBITMQ_CONFIG_FILES=str(d / "conf.d"), RABBITMQ_MNESIA_BASE=str(d / "mnesia"),
               RABBITMQ_LOG_BASE=str(d / "log"), RABBITMQ_PID_FILE=str(d / "rabbit.pid"),
               RABBITMQ_ENABLED_PLUGINS_FILE=str(d / "enabled_plugins"),
               RABBITMQ_CONF_ENV_FILE=str(d / "env.conf"), RABBITMQ_ADVANCED_CONFIG_FILE=str(d / "advanced.config"),
               ERL_CRASH_DUMP=str(d / "erl_crash.dump"))
    subprocess.run(["epmd", "-daemon"], check=True)
    time.sleep(0.2)
    global EPMD
    EPMD = subprocess.run(["pgrep", "-n", "-x", "epmd"], capture_output=True, text=True).stdout.strip()
    procs.append(subprocess.Popen([sbin / "rabbitmq-server"], env=env, stdout=open(d / "server.out", "w"),
                                  stderr=subprocess.STDOUT, start_new_session=True))
    for _ in range(150):
        if subprocess.run([sbin / "rabbitmq-diagnostics", "-q", "ping"], env=env, capture_output=True).returncode == 0:
            break
        time.sleep(0.4)
    run(sbin / "rabbitmqctl", "-q", "await_startup", "--timeout", "60", env=env)


EPMD = ""
PG = None


def database(docs, secrets, dbpki):
    global PG
    cluster = next(d for d in docs if d["kind"] == "Cluster")
    subprocess.run("id -u nianbao-pg >/dev/null 2>&1 || useradd --system --no-create-home --home-dir /nonexistent "
                   "--shell /usr/sbin/nologin nianbao-pg", shell=True, check=True)
    uid = int(subprocess.run(["id", "-u", "nianbao-pg"], capture_output=True, text=True).stdout)
    gid = int(subprocess.run(["id", "-g", "nianbao-pg"], capture_output=True, text=True).stdout)
    pgbin = sorted(pathlib.Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name))[-1]
    d = BASE / "postgres"
    d.mkdir()
    for f in ("server.pem", "server-key.pem"):
        shutil.copy(dbpki / f, d / f)
    data = d / "data"
    data.mkdir()
    pw = d / "superuser"
    pw.write_text(os.urandom(12).hex())
    subprocess.run(["chown", "-R", f"{uid}:{gid}", d], check=True)
    os.chmod(d / "server-key.pem", 0o600)
    as_pg = ["setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups", "--"]
    run(*as_pg, pgbin / "initdb", "-D", data, "-U", "postgres", f"--pwfile={pw}", stdout=subprocess.DEVNULL)
    PG = subprocess.Popen([*as_pg, pgbin / "postgres", "-D", data, "-k", data, "-c", "listen_addresses=127.0.0.1",
                           "-c", "ssl=on", "-c", f"ssl_cert_file={d}/server.pem", "-c", f"ssl_key_file={d}/server-key.pem"],
                          stdout=open(d / "server.out", "w"), stderr=subprocess.STDOUT)
    for _ in range(100):
        if subprocess.run([pgbin / "pg_isready", "-q", "-h", "127.0.0.1", "-U", "postgres"]).returncode == 0:
            break
        time.sleep(0.2)
    spec = cluster["spec"]
    initdb = spec["bootstrap"]["initdb"]
    sql = []
    owner_secret = secrets[initdb["secret"]["name"]]
    assert owner_secret["username"].decode() == initdb["owner"], "initdb secret's username must be the owner"
    sql.append(f"CREATE ROLE {initdb['owner']} LOGIN PASSWORD '{owner_secret['password'].decode()}';")
    sql.append(f"CREATE DATABASE {initdb['database']} OWNER {initdb['owner']};")
    for role in spec["managed"]["roles"]:
        s = secrets[role["passwordSecret"]["name"]]
        assert s["username"].decode() == role["name"], f"{role['name']}: its Secret names {s['username']}"
        sql.append(f"CREATE ROLE {role['name']} {'LOGIN' if role.get('login') else 'NOLOGIN'} "
                   f"PASSWORD '{s['password'].decode()}';")
    for db in (x for x in docs if x["kind"] == "Database"):
        sql.append(f"CREATE DATABASE {db['spec']['name']} OWNER {db['spec']['owner']};")
    for statement in sql:
        run(pgbin / "psql", "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-U", "postgres", "-d", "postgres",
            "-c", statement, env=dict(os.environ, PGPASSWORD=pw.read_text()))
    print(f"   roles and databases: {len(sql)} statements")


def expand(value: str, env: dict) -> str:
    return re.sub(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)", lambda m: env.get(m.group(1), m.group(0)), value)


def start(pod, c, configmaps, secrets, label, shared=None) -> subprocess.Popen:
    """Runs container `c` of `pod` as the kubelet would: volumes projected, env resolved, in a
    mount namespace of its own, as the pod's user."""
    spec = pod["spec"]
    psc = spec.get("securityContext") or {}
    uid, gid = psc.get("runAsUser", 0), psc.get("runAsGroup", 0)
    fs_group = psc.get("fsGroup")
    vols = BASE / "volumes" / (shared or label)
    vols.mkdir(parents=True, exist_ok=True)
    sources = {}
    for v in spec.get("volumes") or []:
        src = vols / v["name"]
        sources[v["name"]] = src
        if src.exists():
            continue  # shared between the containers of one pod (emptyDir)
        src.mkdir()
        files = {}
        if "configMap" in v:
            files = {k: val.encode() for k, val in configmaps[v["configMap"]["name"]].items()}
        elif "secret" in v:
            data = secrets[v["secret"]["secretName"]]
            items = v["secret"].get("items")
            files = {i["path"]: data[i["key"]] for i in items} if items else dict(data)
        for name, content in files.items():
            (src / name).write_bytes(content)
            os.chmod(src / name, 0o644 if "configMap" in v else 0o644)
            if fs_group is not None:
                os.chown(src / name, 0, fs_group)
        if "emptyDir" in v or "persistentVolumeClaim" in v:
            os.chown(src, uid, fs_group if fs_group is not None else gid)
    env = {"PATH": os.environ["PATH"], "HOME": "/tmp"}
    for e in c.get("env") or []:
        if "value" in e:
            env[e["name"]] = expand(e["value"], env)
        else:
            ref = e["valueFrom"]["secretKeyRef"]
            data = secrets.get(ref["name"])
            if data is None or ref["key"] not in data:
                if ref.get("optional"):
                    continue
                raise SystemExit(f"{label}: Secret {ref['name']} key {ref['key']} missing")
            env[e["name"]] = data[ref["key"]].decode()
    command = [expand(x, env) for x in (c.get("command") or []) + (c.get("args") or [])]
    if command[0] == "curl":
        command[0] = shutil.which("curl")
    mounts = []
    for m in c.get("volumeMounts") or []:
        if not any(m["mountPath"] == d or m["mountPath"].startswith(d + "/") for d in [*MOUNT_POINTS, "/tmp", "/work"]):
            raise SystemExit(f"{label}: mount path {m['mountPath']} is outside the rehearsal's tmpfs")
        mounts.append(f"mkdir -p {m['mountPath']} && mount --bind {'-o ro ' if m.get('readOnly') else ''}"
                      f"{sources[m['name']]} {m['mountPath']}")
    script = " && ".join(mounts + ['exec "$@"'])
    user = ["setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups"]
    log = open(BASE / f"{label}.log", "w")
    return subprocess.Popen(["unshare", "--mount", "--propagation", "private", "--", "sh", "-c", script, "sh",
                             *user, "--", "env", "-i", *[f"{k}={v}" for k, v in env.items()], *command],
                            stdout=log, stderr=subprocess.STDOUT, cwd="/")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bin", default=str(ROOT / "target" / "debug"))
    parser.add_argument("--kubectl", default=os.environ.get("KUBECTL") or shutil.which("kubectl") or "kubectl")
    args = parser.parse_args()
    if os.environ.get("NIANBAO_REHEARSAL_INSIDE") != "1":
        outside(args)
    code = 1
    try:
        code = inside(args)
    finally:
        for p in reversed(procs):
            try:
                os.killpg(p.pid, 15) if p.args and "rabbitmq-server" in str(p.args[0]) else p.terminate()
            except ProcessLookupError:
                pass
        for p in procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
        if PG:
            PG.send_signal(2)  # fast shutdown
            PG.wait(timeout=30)
        if EPMD:
            subprocess.run(["kill", EPMD])
        if code != 0 and os.environ.get("KEEP") == "1":
            shutil.copytree(BASE, "/tmp/nianbao-k8s-rehearsal", dirs_exist_ok=True, ignore_dangling_symlinks=True)
            print("logs copied to /tmp/nianbao-k8s-rehearsal")
    sys.exit(code)


if __name__ == "__main__":
    main()
