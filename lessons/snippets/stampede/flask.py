# Two ways to serve a hot key through its expiry without a stampede, with
# redis-py: stale-while-revalidate, and probabilistic early refresh (XFetch).
import json
import math
import random
import threading
import time

import redis
from flask import Flask, jsonify

app = Flask(__name__)
r = redis.Redis.from_url("redis://127.0.0.1:6379/0", socket_timeout=0.5)


def _store(key, value, delta, ttl, grace):
    entry = {"value": value, "delta": delta, "expires": time.time() + ttl}
    # Redis keeps the entry `grace` seconds after it stops being fresh,
    # so a stale copy is there to serve.
    r.set(key, json.dumps(entry), ex=ttl + grace)


def _rebuild(key, build, ttl, grace):
    start = time.time()
    value = build()
    _store(key, value, time.time() - start, ttl, grace)
    return value


def get_stale_while_revalidate(key, build, ttl=60, grace=30):
    raw = r.get(key)
    if raw is None:  # nothing to serve yet: build it now
        return _rebuild(key, build, ttl, grace)
    entry = json.loads(raw)
    if time.time() >= entry["expires"]:
        # Stale: serve it at once; one process, the lock's holder,
        # rebuilds it in the background.
        if r.set("lock:" + key, "1", nx=True, px=5000):
            def refresh():
                try:
                    _rebuild(key, build, ttl, grace)
                finally:
                    r.delete("lock:" + key)

            threading.Thread(target=refresh, daemon=True).start()
    return entry["value"]


def get_early_refresh(key, build, ttl=60, beta=1.0):
    raw = r.get(key)
    if raw is not None:
        entry = json.loads(raw)
        # XFetch: rebuild before expiry with a chance that rises as it
        # nears, scaled by how long the last rebuild took (delta).
        u = 1.0 - random.random()  # in (0, 1], so log(u) is finite
        if time.time() - entry["delta"] * beta * math.log(u) < entry["expires"]:
            return entry["value"]
    return _rebuild(key, build, ttl, grace=0)


def catalogue_summary():
    time.sleep(0.1)  # the slow origin
    return {"products": 1000}


@app.route("/summary")
def summary():
    return jsonify(get_stale_while_revalidate("summary", catalogue_summary))
