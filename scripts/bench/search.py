"""The catalogue search on a large catalogue (scripts/bench.sh --search;
standard library only).

  search.py APP_URL NOOP_URL OUT_JSON HOST

Imports BENCH_SEARCH_MOVIES movies (100,000) through the import route, their
titles and descriptions drawn from a vocabulary of 20,000 words with a Zipf
distribution (a few words in most movies, most words in few), then sends each
kind of search one request at a time, every request a different query (the
movies service caches list pages: a repeated query would be a cache hit), and
prints p50/p95/max per kind beside an uncached list page without a search and
a no-op component measured in the same run.
"""

import http.client
import itertools
import json
import os
import random
import sys
import time
import urllib.parse
import uuid

sys.path.insert(0, os.path.dirname(__file__))
from driver import ADMIN, PASSWORD, Client, parallel, percentile  # noqa: E402

MOVIES = int(os.environ.get("BENCH_SEARCH_MOVIES", "100000"))
SAMPLES = int(os.environ.get("BENCH_SEARCH_SAMPLES", "40"))
VOCABULARY = 20_000
BATCH = 1_000


def vocabulary(rng):
    syllables = ["ka", "lo", "mi", "ne", "ru", "sa", "ti", "vo", "be", "da", "fi", "go", "ha", "je", "pu", "ze"]
    words = set()
    while len(words) < VOCABULARY:
        words.add("".join(rng.choice(syllables) for _ in range(rng.randint(2, 4))))
    return sorted(words, key=lambda w: (rng.random(), w))


def seed(api, rng, words):
    cumulative = list(itertools.accumulate(1 / (rank + 1) for rank in range(len(words))))
    admin = api.ok("POST", "/api/users/register", body={"email": ADMIN, "password": PASSWORD, "username": "benchadmin"})
    token = admin["accessToken"]
    now_ms = int(time.time() * 1000)

    def batch(start):
        brng = random.Random(start)
        rows = []
        for i in range(start, min(start + BATCH, MOVIES)):
            title = " ".join(brng.choices(words, cum_weights=cumulative, k=brng.randint(1, 4))).title()
            description = " ".join(brng.choices(words, cum_weights=cumulative, k=brng.randint(15, 40))) + "."
            rows.append({
                "id": str(uuid.UUID(int=(0x0172 << 112) | (0x7 << 76) | (0x8 << 60) | i)),
                "title": title, "description": description, "releaseYear": 1950 + i % 75,
                "genres": [], "averageRating": 0, "totalRatings": 0,
                "createdAtMs": now_ms - i * 1000, "updatedAtMs": now_ms - i * 1000,
            })
        api.ok("POST", "/api/admin/import/movies", token, {"rows": rows})

    started = time.time()
    parallel(batch, range(0, MOVIES, BATCH), threads=2)
    return time.time() - started


def timed(api, path):
    """(ms, matches), or (ms, None) with the failure printed."""
    started = time.perf_counter()
    status, reply = api.call("GET", path)
    elapsed = (time.perf_counter() - started) * 1000
    if status != 200:
        print(f"    ! GET {path} answered {status} after {elapsed:.0f} ms: {reply}", flush=True)
        return elapsed, None
    return elapsed, reply["pagination"]["total"]


def main(app_url, noop_url, out_json, host):
    rng = random.Random(7)
    words = vocabulary(rng)
    api = Client(app_url)
    noop_at = urllib.parse.urlsplit(noop_url)
    noop = http.client.HTTPConnection(noop_at.hostname, noop_at.port, timeout=60)
    print(f"==> importing {MOVIES} movies (titles and descriptions from {VOCABULARY} words, Zipf)", flush=True)
    took = seed(api, rng, words)
    print(f"    {MOVIES} movies in {took:.1f} s ({MOVIES / took:.0f} movies/s, indexed as written)", flush=True)

    common = words[:10]
    kinds = {
        "no-op component": [None] * SAMPLES,
        "list page, no search (uncached)": [f"/api/movies?page={p}&limit=20" for p in range(2, SAMPLES + 2)],
        "search: a common word (page 1-4)": [f"/api/movies?search={common[i % 10]}&limit=20&page={1 + i // 10}"
                                             for i in range(SAMPLES)],
        "search: a common word, sort=title": [f"/api/movies?search={common[i % 10]}&sort=title&limit=20&page={1 + i // 10}"
                                              for i in range(SAMPLES)],
        "search: a rare word": [f"/api/movies?search={w}&limit=20" for w in rng.sample(words[5000:], SAMPLES)],
        "search: a prefix of 3 letters": [f"/api/movies?search={p}&limit=20"
                                          for p in sorted({w[:3] for w in words[100:2000]})[:SAMPLES]],
        "search: two words (common, then rare)": [f"/api/movies?search={common[i % 10]}%20{w}&limit=20"
                                                  for i, w in enumerate(rng.sample(words[1000:5000], SAMPLES))],
        "search: no match": [f"/api/movies?search=zzq{i}&limit=20" for i in range(SAMPLES)],
    }
    rows = []
    print(f"==> one request at a time, {SAMPLES} different queries of each kind", flush=True)
    print(f"    {'kind':40} {'p50':>8} {'p95':>8} {'max':>8} {'matches (mean)':>15} {'failed':>7}")
    for kind, paths in kinds.items():
        times, totals, failed = [], [], 0
        for path in paths:
            if path is None:
                started = time.perf_counter()
                noop.request("GET", "/")
                noop.getresponse().read()
                times.append((time.perf_counter() - started) * 1000)
                continue
            elapsed, total = timed(api, path)
            times.append(elapsed)
            if total is None:
                failed += 1
            else:
                totals.append(total)
        row = {"kind": kind, "p50_ms": percentile(times, 50), "p95_ms": percentile(times, 95), "max_ms": max(times),
               "matches_mean": (sum(totals) / len(totals)) if totals else None, "failed": failed}
        rows.append(row)
        matches = f"{row['matches_mean']:.0f}" if row["matches_mean"] is not None else "-"
        print(f"    {kind:40} {row['p50_ms']:7.1f}ms {row['p95_ms']:7.1f}ms {row['max_ms']:7.1f}ms {matches:>15} {failed:>7}",
              flush=True)
    baseline = rows[1]["p50_ms"]
    print(f"==> p50 against an uncached list page without a search ({baseline:.1f} ms), same run:")
    for row in rows[2:]:
        print(f"    {row['kind']:40} {row['p50_ms'] / baseline:5.2f}x")
    with open(out_json, "w") as f:
        json.dump({"host": host, "movies": MOVIES, "vocabulary": VOCABULARY, "samples": SAMPLES,
                   "import_seconds": round(took, 1), "kinds": rows}, f, indent=2)
    print(f"==> figures: {out_json}")


if __name__ == "__main__":
    main(*sys.argv[1:5])
