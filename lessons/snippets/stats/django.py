# Cache statistics in Django, read from Redis behind django-redis.
from django.http import JsonResponse
from django_redis import get_redis_connection


def cache_stats(request):
    r = get_redis_connection("default")             # the redis-py client django-redis uses
    stats = r.info("stats")
    hits, misses = stats["keyspace_hits"], stats["keyspace_misses"]
    return JsonResponse({
        "hit_ratio": hits / (hits + misses) if hits + misses else None,
        "evicted_keys": stats["evicted_keys"],
        "expired_keys": stats["expired_keys"],
        # KEY_PREFIX "cw" and the default VERSION 1 make our keys cw:1:<key>.
        "our_keys": sum(1 for _ in r.scan_iter(match="cw:1:*", count=500)),
    })
# LocMemCache has no counters at all. django-debug-toolbar's cache panel lists
# every cache call of one request: the trace panel of this page does the same.
