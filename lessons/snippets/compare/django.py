# The same page with no cache, in process memory and in Redis, timed on the server.
import statistics
import time

from django.test import Client, override_settings

BACKENDS = {
    "none": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"},
    "memory": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "redis": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
              "LOCATION": "redis://127.0.0.1:6379/1"},
}


def median_ms(path, samples=40):
    client = Client()                               # no network: the server's own work only
    client.get(path)                                # warm-up, so the samples measure hits
    times = []
    for _ in range(samples):
        start = time.perf_counter()
        assert client.get(path).status_code == 200
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


for name, backend in BACKENDS.items():
    with override_settings(CACHES={"default": backend}):   # the caches are rebuilt for each
        print(f"{name:>6}: {median_ms('/products/?page=2'):.3f} ms")
