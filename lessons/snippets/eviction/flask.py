# Size limits with Flask-Caching and Redis, and a replay that measures the
# hit ratio a bounded cache reaches, as the eviction lesson does.
import functools
import random

import redis
from flask import Flask
from flask_caching import Cache

app = Flask(__name__)

# SimpleCache lives in one process's memory and keeps at most
# CACHE_THRESHOLD entries. It counts entries, it does not weigh them: 500
# large pages take far more memory than 500 small ones.
cache = Cache(app, config={"CACHE_TYPE": "SimpleCache", "CACHE_THRESHOLD": 500, "CACHE_DEFAULT_TIMEOUT": 300})

# With RedisCache the limit is Redis's own. Read it, and set it.
r = redis.Redis.from_url("redis://127.0.0.1:6379/0", socket_timeout=0.5)
limits = r.config_get("maxmemory*")  # maxmemory '0' means no limit
print(limits["maxmemory"], limits["maxmemory-policy"])
r.config_set("maxmemory", "256mb")
r.config_set("maxmemory-policy", "allkeys-lru")
print("evicted so far:", r.info("stats")["evicted_keys"])


# Hit ratio against size: replay one seeded, skewed trace through an LRU
# of each size. Rank r is asked for with weight 1/r**0.8 (Zipf).
def hit_ratio(size, trace):
    @functools.lru_cache(maxsize=size)
    def page(key):
        return key

    for key in trace:
        page(key)
    info = page.cache_info()
    return info.hits / (info.hits + info.misses)


rng = random.Random(1)
pages = 1051
trace = rng.choices(range(pages), weights=[1 / rank**0.8 for rank in range(1, pages + 1)], k=100_000)
for size in (10, 50, 100, 250, 500, pages):
    print(size, "entries:", round(hit_ratio(size, trace), 3))
