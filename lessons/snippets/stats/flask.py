# Cache statistics. Flask-Caching keeps no counters: read them from Redis itself.
import redis

r = redis.Redis.from_url("redis://127.0.0.1:6379/0")


@app.get("/api/cache-stats")
def cache_stats():
    # One INFO section per call: every Redis version answers that, where some
    # servers refuse several sections in one INFO.
    stats, memory = r.info("stats"), r.info("memory")
    hits, misses = stats["keyspace_hits"], stats["keyspace_misses"]
    return {
        "hit_ratio": hits / (hits + misses) if hits + misses else None,   # None before any lookup
        "evicted_keys": stats["evicted_keys"],       # > 0: maxmemory is smaller than the working set
        "used_memory": memory["used_memory"],
        "fragmentation_ratio": memory["mem_fragmentation_ratio"],
        # INFO's figures are the whole server's, every application's together.
        # Our own keys are counted with SCAN in steps, never KEYS, which blocks
        # the server while it walks every key.
        "our_keys": sum(1 for _ in r.scan_iter(match="cw:*", count=500)),
    }
