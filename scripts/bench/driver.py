"""The benchmark's helpers around wrk (standard library only):

  seed URL OUT_DIR      a realistic catalogue through the public API (admin,
                        movies, users, ratings, comments); writes the request
                        files wrk replays and seed.json
  latency URL OUT_DIR   rating write -> the movie's aggregate, p50/p95/p99
  argon2                the password hash parameters the users crate uses
  report RESULTS JSON SVG HOST
                        the table on stdout, the figures as JSON and an SVG chart
"""

import concurrent.futures
import http.client
import json
import os
import random
import re
import sys
import threading
import time
import urllib.parse

MOVIES = int(os.environ.get("BENCH_MOVIES", "1000"))
USERS = int(os.environ.get("BENCH_USERS", "1000"))
RATINGS_PER_USER = int(os.environ.get("BENCH_RATINGS_PER_USER", "3"))
COMMENTS = int(os.environ.get("BENCH_COMMENTS", "2000"))
PASSWORD = "bench-password-1"
ADMIN = "bench-admin@example.com"
GENRES = ["Drama", "Comedy", "Action", "Thriller", "Sci-Fi", "Horror", "Romance", "Documentary"]
WORDS = ["night", "river", "storm", "garden", "empire", "shadow", "summer", "machine", "echo", "harbour"]


class Client:
    """One keep-alive connection per thread."""

    local = threading.local()

    def __init__(self, base):
        self.url = urllib.parse.urlsplit(base)

    def call(self, method, path, token=None, body=None):
        headers = {"content-type": "application/json"} if body is not None else {}
        if token:
            headers["authorization"] = f"Bearer {token}"
        data = json.dumps(body) if body is not None else None
        for attempt in range(2):
            conn = getattr(self.local, "conn", None)
            if conn is None:
                conn = http.client.HTTPConnection(self.url.hostname, self.url.port, timeout=60)
                self.local.conn = conn
            try:
                conn.request(method, path, body=data, headers=headers)
                resp = conn.getresponse()
                text = resp.read()
                return resp.status, (json.loads(text) if text else None)
            except (ConnectionError, http.client.HTTPException):
                conn.close()
                self.local.conn = None
                if attempt:
                    raise

    def ok(self, method, path, token=None, body=None):
        # A well-behaved client: an answer that says to come back (503
        # overloaded, 429) is retried after a pause, a few times.
        deadline = time.time() + 120
        while True:
            status, reply = self.call(method, path, token, body)
            if status not in (429, 503) or time.time() > deadline:
                break
            time.sleep(0.05 + random.random() * 0.2)
        if status >= 300:
            raise SystemExit(f"seeding: {method} {path} answered {status}: {reply}")
        return reply


def parallel(work, items, threads=8):
    with concurrent.futures.ThreadPoolExecutor(threads) as pool:
        return list(pool.map(work, items))


def seed(base, out):
    api = Client(base)
    rng = random.Random(42)
    started = time.time()
    admin = api.ok("POST", "/api/users/register", body={"email": ADMIN, "password": PASSWORD, "username": "benchadmin"})
    admin_token = admin["accessToken"]

    def movie(i):
        title = f"{rng.choice(WORDS).title()} {rng.choice(WORDS)} {i}"
        body = {
            "title": title,
            "description": f"Benchmark movie {i}: a story of {rng.choice(WORDS)} and {rng.choice(WORDS)}.",
            "releaseYear": 1950 + i % 75,
            "genres": rng.sample(GENRES, 2),
            "durationMinutes": 80 + i % 90,
        }
        return api.ok("POST", "/api/movies", admin_token, body)["id"]

    movies = parallel(movie, range(MOVIES))
    print(f"    {len(movies)} movies", flush=True)

    def user(i):
        reply = api.ok("POST", "/api/users/register", body={
            "email": f"bench-user-{i}@example.com", "password": PASSWORD, "username": f"benchuser{i}"})
        return {"email": f"bench-user-{i}@example.com", "token": reply["accessToken"]}

    users = parallel(user, range(USERS))
    print(f"    {len(users)} users", flush=True)

    ratings = [(u["token"], m, rng.randint(1, 5)) for u in users for m in rng.sample(movies, RATINGS_PER_USER)]
    parallel(lambda r: api.ok("POST", f"/api/ratings/{r[1]}", r[0], {"score": r[2]}), ratings)
    print(f"    {len(ratings)} ratings", flush=True)

    comments = [(rng.choice(users)["token"], rng.choice(movies[:100] if i % 2 else movies), i) for i in range(COMMENTS)]
    parallel(lambda c: api.ok("POST", f"/api/comments/movie/{c[1]}", c[0], {"content": f"Comment {c[2]}: worth a watch."}), comments)
    print(f"    {len(comments)} comments ({time.time() - started:.0f} s to seed)", flush=True)

    write_requests(base, out, rng, movies, users)
    with open(os.path.join(out, "seed.json"), "w") as f:
        json.dump({"movies": movies, "users": users, "admin": admin_token}, f)


def write_requests(base, out, rng, movies, users):
    """One file per measurement: METHOD, path, token, body, tab-separated."""

    def write(name, lines):
        with open(os.path.join(out, f"{name}.requests"), "w") as f:
            for method, path, token, body in lines:
                f.write(f"{method}\t{path}\t{token or ''}\t{json.dumps(body) if body is not None else ''}\n")

    hot = movies[len(movies) // 2]
    write("movie", [("GET", f"/api/movies/{hot}", None, None)])
    write("list", [("GET", f"/api/movies?page={p}&limit=20&sort=title", None, None) for p in range(1, 11)])
    write("search", [("GET", f"/api/movies?search={w}&limit=20", None, None) for w in WORDS])
    popular = movies[:100]
    write("comments", [("GET", f"/api/comments/movie/{m}?limit=20", None, None) for m in popular])
    write("stats", [("GET", f"/api/ratings/movie/{m}/stats", None, None) for m in popular])
    write("rate", [("POST", f"/api/ratings/{rng.choice(movies)}", u["token"], {"score": rng.randint(1, 5)})
                   for u in rng.sample(users, len(users))])
    write("comment", [("POST", f"/api/comments/movie/{rng.choice(popular)}", rng.choice(users)["token"],
                       {"content": "Benchmark comment: a fine film."}) for _ in range(500)])
    # Favourites, as adds and removes that all succeed: each wrk thread
    # (requests.lua gives each its own half of the file) adds pair i and
    # removes pair i - LAG, round and round; the LAG pairs before the first
    # are added while seeding, so every remove finds its favourite, added
    # LAG pairs (2 x LAG requests) earlier: later than any write takes.
    pairs = [(u["token"], m) for u in users for m in rng.sample(movies, min(3, len(movies)))]
    rng.shuffle(pairs)
    per_thread = min(1200, len(pairs) // 2)
    lag = min(300, per_thread // 4)
    lines, seeded = [], []
    for t in range(2):
        mine = pairs[t * per_thread:(t + 1) * per_thread]
        seeded += mine[-lag:]
        for i, (token, movie) in enumerate(mine):
            old_token, old_movie = mine[i - lag]
            lines.append(("POST", f"/api/favorites/{movie}", token, None))
            lines.append(("DELETE", f"/api/favorites/{old_movie}", old_token, None))
    write("favorite", lines)
    api = Client(base)
    parallel(lambda p: api.ok("POST", f"/api/favorites/{p[1]}", p[0]), seeded)
    write("login", [("POST", "/api/users/login", None, {"email": u["email"], "password": PASSWORD})
                    for u in rng.sample(users, min(200, len(users)))])


def percentile(samples, p):
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def latency(base, out, samples=int(os.environ.get("BENCH_EVENT_SAMPLES", "200"))):
    """From sending a rating to the movie's aggregate (GET /api/movies/{id},
    the cached read) showing it: the event's trip ratings -> movies."""
    with open(os.path.join(out, "seed.json")) as f:
        seeded = json.load(f)
    api, poll = Client(base), Client(base)
    rng = random.Random(7)
    times, lost = [], 0
    for i in range(samples):
        user = seeded["users"][i % len(seeded["users"])]
        movie = rng.choice(seeded["movies"])
        started = time.perf_counter()
        # The write answers with the ratings service's new stats; the movie
        # shows them once the event has reached the movies service.
        stats = api.ok("POST", f"/api/ratings/{movie}", user["token"], {"score": rng.randint(1, 5)})["stats"]
        while True:
            m = poll.ok("GET", f"/api/movies/{movie}")
            if m["totalRatings"] == stats["count"] and abs(m["averageRating"] - stats["average"]) < 0.01:
                break
            if time.perf_counter() - started > 10:
                lost += 1
                break
        times.append((time.perf_counter() - started) * 1000)
    result = {"samples": len(times), "timeouts": lost,
              "p50": percentile(times, 50), "p95": percentile(times, 95), "p99": percentile(times, 99)}
    with open(os.path.join(out, "latency.json"), "w") as f:
        json.dump(result, f)
    print(f"    {len(times)} rating writes, {lost} not reflected within 10 s", flush=True)


def login_time(base, out, samples=20):
    """One sign-in at a time on the idle app: an upper bound of one password
    hash's time (the login's own overhead included)."""
    with open(os.path.join(out, "seed.json")) as f:
        user = json.load(f)["users"][0]
    api = Client(base)
    times = []
    for _ in range(samples):
        started = time.perf_counter()
        api.ok("POST", "/api/users/login", body={"email": user["email"], "password": PASSWORD})
        times.append((time.perf_counter() - started) * 1000)
    result = {"samples": samples, "p50": percentile(times, 50), "min": min(times)}
    with open(os.path.join(out, "login.json"), "w") as f:
        json.dump(result, f)
    print(f"    one login at a time: p50 {result['p50']:.1f} ms, min {result['min']:.1f} ms ({samples} logins)", flush=True)


def argon2():
    source = open(os.path.join(os.path.dirname(__file__), "../../crates/auth/src/password.rs")).read()
    m = re.search(r"Params::new\((\d+) \* 1024, (\d+), (\d+)", source)
    return {"algorithm": "argon2id", "memory_kib": int(m[1]) * 1024, "iterations": int(m[2]), "parallelism": int(m[3])}


def report(results_path, json_path, svg_path, host):
    rows = [json.loads(line) for line in open(results_path)]
    base = rows[0]["rps"]
    for r in rows:
        r["ratio"] = r["rps"] / base if base else 0
    latency_path = os.path.join(os.path.dirname(results_path), "latency.json")
    event = json.load(open(latency_path)) if os.path.exists(latency_path) else None
    reads = [r for r in rows if r["name"] in ("GET /api/movies/{id}", "GET /api/movies (list)")]
    hits = sum(r["hits"] for r in reads)
    misses = sum(r["misses"] for r in reads)
    hit_ratio = hits / (hits + misses) if hits + misses else 0
    connections, duration = int(os.environ["CONNECTIONS"]), int(os.environ["DURATION"])
    figures = {"host": host, "connections": connections, "duration_s": duration,
               "seed": {"movies": MOVIES, "users": USERS, "ratings": USERS * RATINGS_PER_USER, "comments": COMMENTS},
               "measurements": rows, "rating_to_aggregate_ms": event,
               "cache": {"hits": hits, "misses": misses, "hit_ratio": hit_ratio}, "password_hash": argon2()}
    with open(json_path, "w") as f:
        json.dump(figures, f, indent=2)
    print(f"\n{host}, {connections} connections, {duration} s each\n")
    print(f"| {'what':<34} | {'req/s':>7} | {'ok/s':>7} | {'p50 ms':>8} | {'p95 ms':>8} | {'p99 ms':>8} | {'errors':>6} | {'of no-op':>8} |")
    print(f"|{'-' * 36}|{'-' * 9}|{'-' * 9}|{'-' * 10}|{'-' * 10}|{'-' * 10}|{'-' * 8}|{'-' * 10}|")
    for r in rows:
        print(f"| {r['name']:<34} | {r['rps']:>7.0f} | {r.get('ok_rps', r['rps']):>7.0f} | {r['p50']:>8.1f} | {r['p95']:>8.1f} | {r['p99']:>8.1f} | {r['errors']:>6} | {r['ratio']:>8.2f} |")
    if event:
        print(f"\nrating -> movie aggregate: p50 {event['p50']:.1f} ms, p95 {event['p95']:.1f} ms, p99 {event['p99']:.1f} ms"
              f" ({event['samples']} writes, {event['timeouts']} not reflected within 10 s)")
    print(f"movies cache under read load: {hits} hits, {misses} misses, hit ratio {hit_ratio:.3f}")
    protection = {r["name"].split(": ")[1]: r["rps"] for r in rows if r["name"].startswith("GET /api/movies/{id}: ")}
    if protection.get("all on"):
        on = protection["all on"]
        figures["gateway_protection"] = {k: v / on for k, v in protection.items()}
        print("gateway protection (rate limits, breaker, metrics), cached movie read, throughput of all on: "
              + ", ".join(f"{k} {v / on:.2f}x" for k, v in protection.items()))
        with open(json_path, "w") as f:
            json.dump(figures, f, indent=2)
    login = os.path.join(os.path.dirname(results_path), "login.json")
    if os.path.exists(login):
        one = json.load(open(login))
        figures["one_login_ms"] = one
        sign_ins = next((r for r in rows if r["name"] == "POST /api/users/login"), None)
        cores = os.cpu_count() or 1
        bound = 0.8 * cores / (one["p50"] / 1000)
        if sign_ins:
            print(f"sign-ins: {sign_ins.get('ok_rps', 0):.1f} a second succeeded (the rest refused, 503 overloaded); one login alone "
                  f"takes {one['p50']:.1f} ms: 0.8 x {cores} cores / that = {bound:.1f} a second")
        with open(json_path, "w") as f:
            json.dump(figures, f, indent=2)
    a = figures["password_hash"]
    print(f"password hash: {a['algorithm']}, m={a['memory_kib']} KiB, t={a['iterations']}, p={a['parallelism']}"
          " (OWASP minimum: m=19456 KiB, t=2, p=1)")
    with open(svg_path, "w") as f:
        f.write(chart(rows, host, connections))
    print(f"\nwrote {json_path} and {svg_path}")


def chart(rows, host, connections):
    """Horizontal bars: each path's throughput as a ratio of the no-op."""
    width, left, bar, gap, top = 760, 290, 22, 8, 50
    height = top + len(rows) * (bar + gap) + 40
    scale = (width - left - 90)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="13">',
           f'<rect width="100%" height="100%" fill="white"/>',
           f'<text x="10" y="24" font-size="15" font-weight="bold">Throughput as a ratio of a no-op component ({esc(host)}, '
           f'{connections} connections)</text>']
    for i, r in enumerate(rows):
        y = top + i * (bar + gap)
        w = max(1, min(1.0, r["ratio"]) * scale)
        colour = "#9aa5b1" if i == 0 else ("#2f6fb0" if r["name"].startswith("GET") else "#c2663a")
        out.append(f'<text x="{left - 8}" y="{y + 16}" text-anchor="end">{esc(r["name"])}</text>')
        out.append(f'<rect x="{left}" y="{y}" width="{w:.1f}" height="{bar}" fill="{colour}"/>')
        out.append(f'<text x="{left + w + 6:.1f}" y="{y + 16}">{r["ratio"]:.2f} · {r["rps"]:.0f}/s</text>')
    for t in (0.25, 0.5, 0.75, 1.0):
        x = left + t * scale
        out.append(f'<line x1="{x:.1f}" y1="{top - 6}" x2="{x:.1f}" y2="{height - 30}" stroke="#ddd"/>')
        out.append(f'<text x="{x:.1f}" y="{height - 14}" text-anchor="middle" fill="#666">{t:.2f}</text>')
    out.append("</svg>\n")
    return "\n".join(out)


def mix_step(prefix, config, people, rate, seconds, out):
    """One step of the mixed day (Locust's CSVs at PREFIX): a JSON line per
    endpoint and one for all, appended to OUT."""
    import csv
    failures = {}
    if os.path.exists(prefix + "_failures.csv"):
        for row in csv.DictReader(open(prefix + "_failures.csv")):
            error = row["Error"].split("'")[1] if "'" in row["Error"] else row["Error"]
            kind = "refused" if error.startswith("refused") else error.split(":")[0]
            per = failures.setdefault(row["Name"], {})
            per[kind] = per.get(kind, 0) + int(row["Occurrences"])
    rows = []
    for row in csv.DictReader(open(prefix + "_stats.csv")):
        name = "all" if row["Name"] == "Aggregated" else row["Name"]
        kinds = failures.get(row["Name"], {})
        if name == "all":
            kinds = {}
            for per in failures.values():
                for k, n in per.items():
                    kinds[k] = kinds.get(k, 0) + n
        rows.append({
            "config": config, "people": int(people), "offered": float(rate), "seconds": int(seconds),
            "endpoint": name, "requests": int(row["Request Count"]), "rps": float(row["Requests/s"]),
            "p50": float(row["50%"] or 0), "p95": float(row["95%"] or 0), "p99": float(row["99%"] or 0),
            "failures": int(row["Failure Count"]), "refused": kinds.get("refused", 0),
            "errors": int(row["Failure Count"]) - kinds.get("refused", 0), "by_kind": kinds,
        })
    with open(out, "a") as f:
        for r in rows:
            f.write(json.dumps(r) + "\n")
    total = next(r for r in rows if r["endpoint"] == "all")
    print(f"    {config}: {people} people offering {float(rate):.0f} req/s: served {total['rps']:.0f} req/s, "
          f"p50 {total['p50']:.0f} ms, p95 {total['p95']:.0f} ms, p99 {total['p99']:.0f} ms, "
          f"{total['errors']} errors, {total['refused']} refused", flush=True)


def mix_report(results_path, json_path, svg_path, host):
    rows = [json.loads(line) for line in open(results_path)]
    steps = sorted({(r["config"], r["people"], r["offered"]) for r in rows})
    figures = {"host": host, "generator": "locust " + os.environ.get("LOCUST_VERSION", ""),
               "sign_in_percent": float(os.environ.get("MIX_SIGN_INS", "1")), "steps": []}
    for config, people, offered in steps:
        mine = [r for r in rows if (r["config"], r["people"], r["offered"]) == (config, people, offered)]
        figures["steps"].append({"config": config, "people": people, "offered": offered,
                                 "endpoints": {r["endpoint"]: {k: r[k] for k in ("requests", "rps", "p50", "p95", "p99", "errors", "refused", "by_kind")}
                                               for r in mine}})
    capacity = {}
    for config in sorted({s["config"] for s in figures["steps"]}):
        # Held: served (at least 95 % of what was offered), p99 <= 500 ms, nothing failed or refused.
        held = [s["offered"] for s in figures["steps"] if s["config"] == config
                and s["endpoints"]["all"]["rps"] >= 0.95 * s["offered"]
                and s["endpoints"]["all"]["p99"] <= 500 and s["endpoints"]["all"]["errors"] == 0
                and s["endpoints"]["all"]["refused"] == 0]
        capacity[config] = max(held) if held else 0
    figures["capacity_req_s"] = capacity
    with open(json_path, "w") as f:
        json.dump(figures, f, indent=2)
    print(f"\nmixed day on {host} (Locust, {figures['sign_in_percent']:g} % sign-ins): per step and endpoint\n")
    print(f"| config | people | offered | endpoint | req/s | p50 ms | p95 ms | p99 ms | errors | refused |")
    print(f"|---|---|---|---|---|---|---|---|---|---|")
    for s in figures["steps"]:
        for name, e in sorted(s["endpoints"].items(), key=lambda kv: (kv[0] != "all", kv[0])):
            print(f"| {s['config']} | {s['people']} | {s['offered']:.0f} | {name} | {e['rps']:.0f} | {e['p50']:.0f} | "
                  f"{e['p95']:.0f} | {e['p99']:.0f} | {e['errors']} | {e['refused']} |")
    for config, rate in capacity.items():
        print(f"capacity ({config}): {rate:.0f} req/s offered and served with p99 <= 500 ms and no error or refusal")
    with open(svg_path, "w") as f:
        f.write(mix_chart(figures))
    print(f"\nwrote {json_path} and {svg_path}")


def mix_chart(figures):
    """Served rate and p99 against the offered rate, per config and people."""
    width, height, left, top, bottom = 760, 420, 70, 50, 60
    steps = figures["steps"]
    max_rate = max(s["offered"] for s in steps) * 1.1
    max_p99 = max(1000, max(s["endpoints"]["all"]["p99"] for s in steps) * 1.1)
    plot_w, plot_h = width - left - 160, height - top - bottom
    x = lambda v: left + v / max_rate * plot_w
    y_rate = lambda v: top + plot_h - v / max_rate * plot_h
    colours = ["#2f6fb0", "#c2663a", "#3a8f4b", "#8a4fb0"]
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="12">',
           '<rect width="100%" height="100%" fill="white"/>',
           f'<text x="10" y="22" font-size="15" font-weight="bold">Mixed day on {esc(figures["host"])}: served req/s (lines) '
           'and p99 ms (labels) against the offered rate</text>',
           f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" stroke="#999"/>',
           f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}" stroke="#999"/>',
           f'<line x1="{x(0):.1f}" y1="{y_rate(0):.1f}" x2="{x(max_rate):.1f}" y2="{y_rate(max_rate):.1f}" stroke="#ddd" stroke-dasharray="4"/>']
    series = sorted({(s["config"], s["people"]) for s in steps})
    for i, (config, people) in enumerate(series):
        colour = colours[i % len(colours)]
        pts = [s for s in steps if (s["config"], s["people"]) == (config, people)]
        path = " ".join(f"{x(s['offered']):.1f},{y_rate(s['endpoints']['all']['rps']):.1f}" for s in pts)
        out.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"/>')
        for s in pts:
            a = s["endpoints"]["all"]
            px, py = x(s["offered"]), y_rate(a["rps"])
            out.append(f'<circle cx="{px:.1f}" cy="{py:.1f}" r="3" fill="{colour}"/>')
            out.append(f'<text x="{px + 4:.1f}" y="{py - 4:.1f}" fill="{colour}">{a["p99"]:.0f} ms'
                       f'{" ×" + str(a["errors"]) if a["errors"] else ""}</text>')
        out.append(f'<text x="{left + plot_w + 10}" y="{top + 16 * i + 10}" fill="{colour}">{esc(config)}, {people} people</text>')
    for t in range(0, int(max_rate) + 1, 250):
        out.append(f'<text x="{x(t):.1f}" y="{top + plot_h + 16}" text-anchor="middle" fill="#666">{t}</text>')
        out.append(f'<text x="{left - 6}" y="{y_rate(t) + 4:.1f}" text-anchor="end" fill="#666">{t}</text>')
    out.append(f'<text x="{left + plot_w / 2}" y="{height - 18}" text-anchor="middle">offered req/s (dashed: served = offered)</text>')
    out.append("</svg>\n")
    return "\n".join(out)


def esc(text):
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


if __name__ == "__main__":
    command, args = sys.argv[1], sys.argv[2:]
    {"seed": seed, "latency": latency, "login_time": login_time, "report": report,
     "mix_step": mix_step, "mix_report": mix_report}[command](*args)
