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
    print(f"| {'what':<34} | {'req/s':>7} | {'p50 ms':>8} | {'p95 ms':>8} | {'p99 ms':>8} | {'errors':>6} | {'of no-op':>8} |")
    print(f"|{'-' * 36}|{'-' * 9}|{'-' * 10}|{'-' * 10}|{'-' * 10}|{'-' * 8}|{'-' * 10}|")
    for r in rows:
        print(f"| {r['name']:<34} | {r['rps']:>7.0f} | {r['p50']:>8.1f} | {r['p95']:>8.1f} | {r['p99']:>8.1f} | {r['errors']:>6} | {r['ratio']:>8.2f} |")
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


def esc(text):
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


if __name__ == "__main__":
    command, args = sys.argv[1], sys.argv[2:]
    {"seed": seed, "latency": latency, "login_time": login_time, "report": report}[command](*args)
