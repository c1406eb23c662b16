#!/usr/bin/env python3
"""Validate deploy/spinkube/ the way the API server would, offline.

Renders both layouts (render.sh) and the Secrets (secrets.sh, from
.env.example with its blanks filled), then checks every document:
- built-in kinds against the Kubernetes schemas of kubernetes-validate
  (strict: an unknown field is an error, as `kubectl apply --validate=strict`);
- SpinApp and ScaledObject against the CRDs copied into deploy/spinkube/crds,
  strictly too (the API server would prune an unknown field silently);
- what no schema knows: the split layout names every component of
  spin.split.toml exactly once; each SpinApp's variables are the manifest's
  and reach a component of it, its required ones are set, and every Secret
  and ConfigMap key it reads exists; each autoscaler targets a SpinApp, and
  each app has one; KEDA scales a consumer group that exists; the runtime
  config defines every store and database the components open.
Prints one line per file and exits non-zero on the first layout with errors.
Needs kubernetes-validate (pinned in scripts/setup.sh).
"""

import base64
import os
import pathlib
import re
import subprocess
import sys
import tempfile
import tomllib

import jsonschema
import kubernetes_validate
import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy" / "spinkube"
KUBERNETES = "1.33.0"
SAMPLE = {"STREAMIA_REGISTRY": "registry.example.com/acme", "STREAMIA_TAG": "0.1.0", "STREAMIA_HOST": "streamia.example.com"}

errors = []


def error(where, message):
    errors.append(f"{where}: {message}")


def strict(schema):
    """Refuse unknown fields: an object schema with properties and no say on others gets additionalProperties false."""
    if isinstance(schema, dict):
        if (
            schema.get("type") == "object"
            and "properties" in schema
            and "additionalProperties" not in schema
            and not schema.get("x-kubernetes-preserve-unknown-fields")
        ):
            schema = dict(schema, additionalProperties=False)
        return {k: strict(v) for k, v in schema.items()}
    if isinstance(schema, list):
        return [strict(v) for v in schema]
    return schema


def crd_schemas():
    schemas = {}
    for path in sorted((DEPLOY / "crds").glob("*.yaml")):
        for crd in yaml.safe_load_all(path.read_text()):
            if not crd:
                continue
            group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
            for version in crd["spec"]["versions"]:
                if version.get("served"):
                    schema = strict(version["schema"]["openAPIV3Schema"])
                    schemas[(f"{group}/{version['name']}", kind)] = schema
    return schemas


def validate_document(where, doc, crds):
    key = (doc.get("apiVersion"), doc.get("kind"))
    if key in crds:
        validator = jsonschema.Draft7Validator(crds[key])
        for e in sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path)):
            path = ".".join(str(p) for p in e.absolute_path)
            error(where, f"{doc['kind']} {path}: {e.message}")
        return
    try:
        kubernetes_validate.validate(doc, KUBERNETES, strict=True)
    except kubernetes_validate.ValidationError as e:
        path = ".".join(str(p) for p in e.path)
        error(where, f"{doc['kind']} {path}: {e.message}")
    except kubernetes_validate.SchemaNotFoundError:
        error(where, f"no schema for {key}: a kind this repository has no CRD copy of")


def run(*args, env=None):
    done = subprocess.run(args, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        sys.exit(f"{' '.join(map(str, args))} failed:\n{done.stderr}")
    return done.stdout


def sample_env(into):
    """.env.example with every blank filled, as an operator would."""
    lines = []
    for line in (DEPLOY / ".env.example").read_text().splitlines():
        if re.fullmatch(r"[A-Z][A-Z0-9_]*=", line):
            line += "sample-value-that-is-long-enough-for-a-jwt-secret"
        lines.append(line)
    into.write_text("\n".join(lines) + "\n")


def manifest(name):
    return tomllib.loads((ROOT / name).read_text())


def referenced_variables(component):
    text = " ".join(str(v) for v in component.get("variables", {}).values())
    text += " ".join(str(h) for h in component.get("allowed_outbound_hosts", []))
    return set(re.findall(r"\{\{\s*([a-z0-9_]+)\s*\}\}", text))


def check_spinapp(where, app, spin, secrets, config):
    """The SpinApp against its image's manifest: components, variables, keys."""
    components = spin["component"]
    chosen = app["spec"].get("components") or list(components)
    for name in chosen:
        if name not in components:
            error(where, f"{app['metadata']['name']}: no component {name!r} in the manifest")
    used = set()
    for name in chosen:
        used |= referenced_variables(components.get(name, {}))
    # Redis triggers' addresses are variables too.
    for trigger in spin["trigger"].get("redis", []):
        if trigger["component"] in chosen:
            used |= set(re.findall(r"\{\{\s*([a-z0-9_]+)\s*\}\}", trigger["address"]))
    declared = spin["variables"]
    set_here = set()
    for variable in app["spec"].get("variables", []):
        name = variable["name"]
        set_here.add(name)
        if name not in declared:
            error(where, f"{app['metadata']['name']}: variable {name!r} is not in the manifest")
        elif name not in used:
            error(where, f"{app['metadata']['name']}: variable {name!r} reaches none of {chosen}")
        source = variable.get("valueFrom", {})
        if "secretKeyRef" in source:
            ref = source["secretKeyRef"]
            if ref["key"] not in secrets.get(ref["name"], {}):
                error(where, f"{name}: Secret {ref['name']} has no key {ref['key']!r}")
        if "configMapKeyRef" in source:
            ref = source["configMapKeyRef"]
            if ref["key"] not in config.get(ref["name"], {}):
                error(where, f"{name}: ConfigMap {ref['name']} has no key {ref['key']!r}")
    for name in used:
        spec = declared.get(name, {})
        if spec.get("required") and name not in set_here:
            error(where, f"{app['metadata']['name']}: required variable {name!r} is not set")
    return chosen


def check_runtime_config(runtime_config, spin, where):
    for name, component in spin["component"].items():
        for label in component.get("sqlite_databases", []):
            if label not in runtime_config.get("sqlite_database", {}):
                error(where, f"no sqlite_database.{label} (component {name})")
        for label in component.get("key_value_stores", []):
            if label not in runtime_config.get("key_value_store", {}):
                error(where, f"no key_value_store.{label} (component {name})")
    for label, db in runtime_config.get("sqlite_database", {}).items():
        if db.get("type") != "libsql" or not str(db.get("url", "")).startswith(("https://", "http://")):
            error(where, f"sqlite_database.{label}: libSQL over https:// (what Spin supports) is expected")


def layout(name, workdir, crds, secret_docs):
    out = workdir / name
    # The split layout is rendered with traces on: the traced executor is
    # validated too, and every SpinApp must run on an executor that exists.
    traced = {"STREAMIA_TRACES_URL": "http://phoenix.observability:6006/v1/traces"} if name == "split" else {}
    run(str(DEPLOY / "render.sh"), name, str(out), env=dict(os.environ, **SAMPLE, **traced))
    files = sorted(out.rglob("*.yaml"))
    docs = []
    for path in files:
        where = f"{name}/{path.relative_to(out)}"
        before = len(errors)
        for doc in yaml.safe_load_all(path.read_text()):
            if doc:
                validate_document(where, doc, crds)
                docs.append((where, doc))
        print(f"  {where}: {'ok' if len(errors) == before else 'ERRORS'}")
    for where, doc in secret_docs:
        docs.append((where, doc))

    secrets = {d["metadata"]["name"]: d.get("data", {}) for _, d in docs if d["kind"] == "Secret"}
    config = {d["metadata"]["name"]: d.get("data", {}) for _, d in docs if d["kind"] == "ConfigMap"}
    apps = [(w, d) for w, d in docs if d["kind"] == "SpinApp"]
    executors = {"containerd-shim-spin"} | {d["metadata"]["name"] for _, d in docs if d["kind"] == "SpinAppExecutor"}
    for where, app in apps:
        if app["spec"].get("executor") not in executors:
            error(where, f"executor {app['spec'].get('executor')!r} is neither the shim's nor rendered here")
        if traced and app["spec"].get("executor") != "containerd-shim-spin-traced":
            error(where, "STREAMIA_TRACES_URL is set but this SpinApp is not on the traced executor")
    image_manifest = {"whole": "spin.redis.toml", "split": "spin.split.toml"}[name]
    spin = manifest(image_manifest)
    whole = manifest("spin.redis.toml")
    images = {"streamia": whole, "streamia-split": manifest("spin.split.toml")}

    named = []
    for where, app in apps:
        repository = app["spec"]["image"].rsplit(":", 1)[0].rsplit("/", 1)[-1]
        chosen = check_spinapp(where, app, images[repository], secrets, config)
        if app["metadata"]["name"] != "streamia-migrate":
            named += chosen
        else:
            http = {t["component"] for t in whole["trigger"]["http"]}
            if set(chosen) != http:
                error(where, f"the migration app runs the HTTP components {sorted(http)}, not {chosen}")
        probes = app["spec"].get("checks", {})
        if app["metadata"]["name"] != "streamia-migrate":
            for probe, path in [("readiness", "/health/ready"), ("liveness", "/health/live")]:
                if probes.get(probe, {}).get("httpGet", {}).get("path") != path:
                    error(where, f"{probe} probe is not {path}")

    every = sorted(spin["component"])
    if sorted(named) != every:
        twice = sorted({c for c in named if named.count(c) > 1})
        missing = sorted(set(every) - set(named))
        error(name, f"the SpinApps must run each component exactly once: twice {twice}, never {missing}")

    app_names = {d["metadata"]["name"] for _, d in apps} - {"streamia-migrate"}
    scaled = []
    for where, doc in docs:
        if doc["kind"] == "HorizontalPodAutoscaler":
            target = doc["spec"]["scaleTargetRef"]["name"]
            scaled.append(target)
        elif doc["kind"] == "ScaledObject":
            target = doc["spec"]["scaleTargetRef"]["name"]
            scaled.append(target)
            for trigger in doc["spec"]["triggers"]:
                if trigger["type"] == "redis-streams":
                    group = trigger["metadata"]["consumerGroup"]
                    if f"{group}-events" not in spin["component"] or target != f"streamia-{group}":
                        error(where, f"group {group!r}: no consumer {group}-events in {target}")
        else:
            continue
        if target not in app_names:
            error(where, f"scales {target!r}, which no SpinApp makes")
    if sorted(scaled) != sorted(app_names):
        error(name, f"each SpinApp needs exactly one autoscaler: apps {sorted(app_names)}, scaled {sorted(scaled)}")

    runtime = base64.b64decode(secrets["streamia-runtime-config"]["runtime-config.toml"]).decode()
    check_runtime_config(tomllib.loads(runtime), spin, f"{name}: runtime-config.toml")
    if name == "split":
        # The network policy guards exactly the services' SpinApps.
        for where, doc in docs:
            if doc["kind"] == "NetworkPolicy" and doc["metadata"]["name"] == "streamia-services":
                guarded = set(doc["spec"]["podSelector"]["matchExpressions"][0]["values"])
                want = (app_names - {"streamia-gateway"}) | {"streamia-migrate"}
                if guarded != want:
                    error(where, f"guards {sorted(guarded)}, the services are {sorted(want)}")


def main():
    crds = crd_schemas()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = pathlib.Path(tmp)
        env_file = workdir / ".env"
        sample_env(env_file)
        secret_docs = []
        before = len(errors)
        for doc in yaml.safe_load_all(run(str(DEPLOY / "secrets.sh"), str(env_file))):
            validate_document("secrets.sh", doc, crds)
            secret_docs.append(("secrets.sh", doc))
        print(f"  secrets.sh (from .env.example): {'ok' if len(errors) == before else 'ERRORS'}")
        for name in ["whole", "split"]:
            layout(name, workdir, crds, secret_docs)
    for e in errors:
        print(f"error: {e}")
    documents = "every manifest valid against Kubernetes " + KUBERNETES + " and the SpinApp, SpinAppExecutor and ScaledObject CRDs"
    print(f"deploy: {documents}" if not errors else f"deploy: {len(errors)} errors")
    sys.exit(1 if errors else 0)


if __name__ == "__main__":
    main()
