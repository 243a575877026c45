# settings.py: the size limits of Django's cache backends.
CACHES = {
    # LocMemCache lives in one process's memory. MAX_ENTRIES counts
    # entries (it does not weigh them); once it is reached, a third of
    # them (1/CULL_FREQUENCY) go, least recently used first.
    "default": {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
        "TIMEOUT": 300,
        "OPTIONS": {"MAX_ENTRIES": 500, "CULL_FREQUENCY": 3},
    },
    # With Redis the limit and the policy are the server's own
    # (maxmemory, maxmemory-policy): no Django option bounds it.
    "redis": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": "redis://127.0.0.1:6379/0",
    },
}


# views.py: show Redis's limit, read from the server, as /eviction does.
import redis
from django.http import JsonResponse


def redis_limits(request):
    r = redis.Redis.from_url("redis://127.0.0.1:6379/0", socket_timeout=0.5)
    try:
        limits = r.config_get("maxmemory*")
        evicted = r.info("stats")["evicted_keys"]
    except redis.RedisError as e:
        # A server without CONFIG (or a dead one) is reported, not a 500.
        return JsonResponse({"error": str(e)}, status=503)
    return JsonResponse({"maxmemory": limits["maxmemory"], "maxmemory_policy": limits["maxmemory-policy"], "evicted_keys": evicted})
