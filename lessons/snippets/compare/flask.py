# The same page with no cache, in process memory and in Redis, timed on the server.
import statistics
import time

BACKENDS = {
    "none": {"CACHE_TYPE": "NullCache"},            # every request builds the page
    "memory": {"CACHE_TYPE": "SimpleCache"},        # a dict in this process
    "redis": {"CACHE_TYPE": "RedisCache", "CACHE_REDIS_URL": "redis://127.0.0.1:6379/0"},
}


def median_ms(app, path, samples=40):
    client = app.test_client()                      # no network: the server's own work only
    client.get(path)                                # warm-up, so the samples measure hits
    times = []
    for _ in range(samples):
        start = time.perf_counter()
        assert client.get(path).status_code == 200
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


for name, config in BACKENDS.items():
    app = create_app(config)                        # the application factory, given a cache config
    print(f"{name:>6}: {median_ms(app, '/products?page=2'):.3f} ms")
# A cache pays only when building the page costs more than fetching it: a
# Redis hit still pays a network round trip that a memory hit does not.
