"""A mixed day on Streamia, for Locust (scripts/bench.sh --mix): people who
browse (catalogue pages, search, a movie, its comments, its rating
statistics: about 80 % of requests), write (a rating, a comment, a
favourite added then removed: about 15 %) and sign in (MIX_SIGN_INS percent,
1 by default), each person at a fixed pace so that the offered rate is
fixed: MIX_RATE requests a second in all over however many people run.

Reads the seeded catalogue and accounts from MIX_SEED (the bench's
seed.json). A refusal that says when to come back (503 overloaded, 429) is
counted as such, and the person waits that long before their next request.
"""

import itertools
import json
import os
import random

import gevent
from locust import FastHttpUser, constant_throughput, task

SEED = json.load(open(os.environ["MIX_SEED"]))
MOVIES = SEED["movies"]
POPULAR = MOVIES[:100]
USERS = SEED["users"]
WORDS = ["night", "river", "storm", "garden", "empire", "shadow", "summer", "machine", "echo", "harbour"]
SORTS = ["title", "releaseYear:desc", "averageRating:desc", "createdAt:desc"]
PASSWORD = "bench-password-1"

SIGN_INS = float(os.environ.get("MIX_SIGN_INS", "1"))
# Requests of each kind in 100 (a favourite is two: added, then removed).
WEIGHTS = {
    "list": 20, "search": 10, "movie": 25, "comments": 15, "stats": 10,
    "rate": 6, "comment": 4, "favorite": 5,
}
PEOPLE = int(os.environ["MIX_PEOPLE"])
RATE = float(os.environ["MIX_RATE"])


# Each person an account of their own, so that two never race on one favourite.
ACCOUNTS = itertools.cycle(USERS)


def pick_sign_in():
    return random.random() * 100 < SIGN_INS


class Person(FastHttpUser):
    # Each person's pace: the offered rate shared by all.
    wait_time = constant_throughput(RATE / PEOPLE)

    def on_start(self):
        self.account = next(ACCOUNTS)
        self.auth = {"Authorization": f"Bearer {self.account['token']}"}
        self.pause = 0

    def request(self, method, path, name, headers=None, body=None):
        """True when it succeeded."""
        with self.client.request(method, path, name=name, headers=headers, json=body,
                                 catch_response=True) as r:
            if r.status_code in (429, 503) and r.headers.get("retry-after"):
                r.failure(f"refused {r.status_code}")
                self.pause = random.uniform(0, float(r.headers["retry-after"]))
            elif r.status_code >= 400:
                r.failure(f"{r.status_code}: {r.text[:120]}")
            else:
                r.success()
                return True
        return False

    @task
    def one(self):
        if self.pause:
            pause, self.pause = self.pause, 0
            gevent.sleep(pause)
            return
        if pick_sign_in():
            body = {"email": self.account["email"], "password": PASSWORD}
            return self.request("POST", "/api/users/login", "POST /api/users/login", body=body)
        kind = random.choices(list(WEIGHTS), weights=list(WEIGHTS.values()))[0]
        movie = random.choice(POPULAR if kind in ("comments", "stats", "comment") else MOVIES)
        if kind == "list":
            page, sort = random.randint(1, 10), random.choice(SORTS)
            self.request("GET", f"/api/movies?page={page}&limit=20&sort={sort}", "GET /api/movies")
        elif kind == "search":
            self.request("GET", f"/api/movies?search={random.choice(WORDS)}&limit=20", "GET /api/movies?search=")
        elif kind == "movie":
            self.request("GET", f"/api/movies/{movie}", "GET /api/movies/{id}")
        elif kind == "comments":
            self.request("GET", f"/api/comments/movie/{movie}?limit=20", "GET /api/comments/movie/{id}")
        elif kind == "stats":
            self.request("GET", f"/api/ratings/movie/{movie}/stats", "GET /api/ratings/movie/{id}/stats")
        elif kind == "rate":
            self.request("POST", f"/api/ratings/{movie}", "POST /api/ratings/{id}", self.auth,
                         {"score": random.randint(1, 5)})
        elif kind == "comment":
            self.request("POST", f"/api/comments/movie/{movie}", "POST /api/comments/movie/{id}", self.auth,
                         {"content": "A mixed day's comment: worth a watch."})
        else:
            if self.request("POST", f"/api/favorites/{movie}", "POST /api/favorites/{id}", self.auth):
                self.request("DELETE", f"/api/favorites/{movie}", "DELETE /api/favorites/{id}", self.auth)
