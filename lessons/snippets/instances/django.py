# settings.py: LocMemCache is per process, like the workshop's memory mode.
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    # Shared by every process and server: what Redis mode is.
    "shared": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": "redis://127.0.0.1:6379/0",
    },
}

# Both tiers, as the workshop's tiered mode: look locally, then in Redis.
from django.core.cache import caches  # noqa: E402


def get_tiered(key, build, timeout=300):
    local, shared = caches["default"], caches["shared"]
    value = local.get(key)
    if value is None:
        value = shared.get(key)
        if value is None:
            value = build()
            shared.set(key, value, timeout)
        local.set(key, value, 30)   # a short local life bounds staleness
    return value
