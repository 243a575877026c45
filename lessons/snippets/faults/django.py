# settings.py: django-redis told to survive a failing Redis.
CACHES = {
    "default": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": "redis://127.0.0.1:6379/0",
        "OPTIONS": {
            "SOCKET_CONNECT_TIMEOUT": 0.2,           # seconds: a dead Redis must not stall pages
            "SOCKET_TIMEOUT": 0.2,
            "IGNORE_EXCEPTIONS": True,               # a failed get is a miss, a failed set is skipped
        },
    }
}
DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS = True           # and say so in the log

# IGNORE_EXCEPTIONS also swallows a failed delete or incr: an edit made while Redis
# is down leaves the old page there when Redis comes back. The workshop records
# each invalidation in the database with the edit and relays it once Redis answers.
