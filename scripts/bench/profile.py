"""Where one request's time goes, read from Spin's own traces (standard library only).

  profile.py APP_URL PHOENIX_URL PROJECT REQUESTS_DIR [SAMPLES]

Sends SAMPLES requests (one at a time, on the idle app) of each path the
benchmark measures, each with a `traceparent` of its own; then reads every
trace back from Phoenix (`GET /v1/projects/PROJECT/spans?trace_id=…`) and
prints, per path, the request's time and each kind of span inside it: the
components (`execute_wasm_component <id>`), the chained calls between them
and every host call (`spin_sqlite.execute`, `spin_key_value.*`,
`spin_variables.get`, …), with how many a request makes and their mean
time. Writes the figures to REQUESTS_DIR/profile.json.
"""

import datetime
import json
import os
import secrets
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

PATHS = ["noop", "movie", "list", "search", "comments", "stats", "rate", "comment", "favorite", "login"]


def requests_of(directory, name):
    path = os.path.join(directory, f"{name}.requests")
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [line.rstrip("\n").split("\t") for line in f if line.strip()]


def send(base, method, path, token, body, trace_id, traced=True):
    flags = "01" if traced else "00"
    headers = {"traceparent": f"00-{trace_id}-{secrets.token_hex(8)}-{flags}"}
    if token:
        headers["authorization"] = f"Bearer {token}"
    data = None
    if body:
        data = body.encode()
        headers["content-type"] = "application/json"
    req = urllib.request.Request(base + path, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            resp.read()
            return resp.status
    except urllib.error.HTTPError as e:
        return e.code


def spans_of(phoenix, project, trace_id):
    url = f"{phoenix}/v1/projects/{project}/spans?trace_id={trace_id}&limit=1000"
    try:
        with urllib.request.urlopen(url, timeout=30) as resp:
            return json.load(resp).get("data", [])
    except urllib.error.HTTPError:
        return []


def millis(span):
    start = datetime.datetime.fromisoformat(span["start_time"])
    end = datetime.datetime.fromisoformat(span["end_time"])
    return (end - start).total_seconds() * 1000


def kind(span):
    """A span's name without what varies per request (paths, ids)."""
    name = span["name"]
    if name.startswith("execute_wasm_component"):
        return name
    method, _, rest = name.partition(" ")
    if method in ("GET", "POST", "PUT", "PATCH", "DELETE") and rest:
        return f"{method} (the request)"
    if method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
        return f"{method} (a chained call)"
    return name


def profile(base, phoenix, project, directory, samples):
    traces = {}
    for name in PATHS:
        lines = requests_of(directory, name)
        if not lines:
            continue
        # Once each first, untraced: a cached path is profiled as it is
        # served under load (from the cache), not as its first read.
        for method, path, token, body in ((line + ["", "", "", ""])[:4] for line in lines[:samples]):
            send(base if name != "noop" else os.environ.get("NOOP_URL", base), method, path, token, body,
                 secrets.token_hex(16), traced=False)
        ids = []
        for i in range(samples):
            method, path, token, body = (lines[i % len(lines)] + ["", "", "", ""])[:4]
            trace_id = secrets.token_hex(16)
            status = send(base if name != "noop" else os.environ.get("NOOP_URL", base), method, path, token, body, trace_id)
            ids.append((trace_id, status))
        traces[name] = ids
    time.sleep(3)  # Spin exports its spans in batches
    figures = {}
    for name, ids in traces.items():
        per_kind, totals, statuses = {}, [], {}
        for trace_id, status in ids:
            statuses[status] = statuses.get(status, 0) + 1
            # Complete once the request's own span is in and no more arrive.
            spans, seen = [], -1
            for _ in range(20):
                spans = spans_of(phoenix, project, trace_id)
                if any(kind(s).endswith("(the request)") for s in spans) and len(spans) == seen:
                    break
                seen = len(spans)
                time.sleep(0.3)
            if not spans:
                with urllib.request.urlopen(f"{phoenix}/v1/projects", timeout=30) as resp:
                    projects = [p["name"] for p in json.load(resp)["data"]]
                raise SystemExit(f"no spans of trace {trace_id} ({name}) in {phoenix}, project {project} "
                                 f"(its projects: {projects})")
            roots = [s for s in spans if kind(s).endswith("(the request)")]
            if roots:
                totals.append(millis(roots[0]))
            for span in spans:
                entry = per_kind.setdefault(kind(span), [0, 0.0])
                entry[0] += 1
                entry[1] += millis(span)
        n = len(ids)
        figures[name] = {
            "samples": n,
            "statuses": statuses,
            "request_ms": sum(totals) / len(totals) if totals else None,
            "spans": {k: {"per_request": c / n, "mean_ms": t / c} for k, (c, t) in per_kind.items()},
        }
        print(f"{name}: {n} requests {statuses}, {figures[name]['request_ms'] or 0:.2f} ms each (the server span)")
        rows = sorted(figures[name]["spans"].items(), key=lambda kv: -kv[1]["per_request"] * kv[1]["mean_ms"])
        for k, f in rows:
            print(f"    {f['per_request']:6.1f} x {f['mean_ms'] * 1000:8.0f} us  {k}")
    with open(os.path.join(directory, "profile.json"), "w") as f:
        json.dump(figures, f, indent=1)


if __name__ == "__main__":
    app, phoenix, project, directory = sys.argv[1:5]
    profile(app, phoenix, project, directory, int(sys.argv[5]) if len(sys.argv) > 5 else 20)
