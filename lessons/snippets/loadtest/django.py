"""Prometheus metrics for a Django site, as /metrics serves this one's.

    pip install django-prometheus django-redis

django-prometheus times every request by view name, never by raw path, so
a flood of made-up URLs cannot add series, and its cache backends count
each get as a hit or a miss. Scrape /metrics from Prometheus; keep it off
the public internet (a firewall rule, or a view behind a token).
"""

# settings.py
INSTALLED_APPS = [
    # ...
    "django_prometheus",
]

MIDDLEWARE = [
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    # ... every other middleware, in its usual order ...
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

CACHES = {
    # The same django-redis cache as before, wrapped so that every get
    # counts: django_cache_get_total, django_cache_get_hits_total,
    # django_cache_get_misses_total and django_cache_get_fail_total.
    "default": {
        "BACKEND": "django_prometheus.cache.backends.redis.RedisCache",
        "LOCATION": "redis://127.0.0.1:6379/1",
        "TIMEOUT": 300,
    },
}

# urls.py
from django.urls import include, path  # noqa: E402

urlpatterns = [
    # ...
    path("", include("django_prometheus.urls")),  # serves /metrics
]

# The hit ratio over the last five minutes, in PromQL:
#   sum(rate(django_cache_get_hits_total[5m]))
#     / sum(rate(django_cache_get_total[5m]))
