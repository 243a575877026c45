# Two ways to serve a hot key through its expiry without a stampede, with
# Django's cache API (on Redis or memcached, cache.add is atomic: it sets
# only when the key is absent, which makes it a lock).
import math
import random
import threading
import time

from django.core.cache import cache
from django.http import JsonResponse
from django.utils.cache import patch_cache_control


def _rebuild(key, build, ttl, grace):
    start = time.time()
    value = build()
    entry = {"value": value, "delta": time.time() - start, "expires": time.time() + ttl}
    cache.set(key, entry, timeout=ttl + grace)  # kept past freshness
    return value


def get_stale_while_revalidate(key, build, ttl=60, grace=30):
    entry = cache.get(key)
    if entry is None:
        return _rebuild(key, build, ttl, grace)
    if time.time() >= entry["expires"] and cache.add("lock:" + key, 1, timeout=5):
        # Stale, and we hold the lock: rebuild in the background and serve
        # the stale copy now, like everybody else.
        def refresh():
            try:
                _rebuild(key, build, ttl, grace)
            finally:
                cache.delete("lock:" + key)

        threading.Thread(target=refresh, daemon=True).start()
    return entry["value"]


def get_early_refresh(key, build, ttl=60, beta=1.0):
    entry = cache.get(key)
    if entry is not None:
        u = 1.0 - random.random()  # in (0, 1]
        if time.time() - entry["delta"] * beta * math.log(u) < entry["expires"]:
            return entry["value"]
    return _rebuild(key, build, ttl, grace=0)


def catalogue_summary():
    time.sleep(0.1)  # the slow origin
    return {"products": 1000}


def summary(request):
    response = JsonResponse(get_stale_while_revalidate("summary", catalogue_summary))
    # The same idea for HTTP caches: fresh for 60 s, then served stale for
    # up to 30 s more while the cache revalidates in the background.
    patch_cache_control(response, public=True, max_age=60, stale_while_revalidate=30)
    return response
