# Teacher controls in Django: the settings are read at start-up, the clears are views.
from django.contrib.admin.views.decorators import staff_member_required
from django.core.cache import caches
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

# settings.py: a small memory cache, to watch eviction. Django counts entries, not
# bytes: past MAX_ENTRIES it culls a third of them (1 / CULL_FREQUENCY).
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
        "TIMEOUT": 30,                              # the page TTL, in seconds
        "OPTIONS": {"MAX_ENTRIES": 50, "CULL_FREQUENCY": 3},
    },
    "redis": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": "redis://127.0.0.1:6379/0",
        "KEY_PREFIX": "cw",
    },
}


@staff_member_required
@require_POST                                       # a form post, with {% csrf_token %}
def clear_caches(request):
    caches["default"].clear()                       # LocMemCache: this process's entries only
    # Not clear() on Redis: django-redis (and Django's own RedisCache) run FLUSHDB,
    # every key of the database. delete_pattern SCANs our prefix in steps.
    caches["redis"].delete_pattern("*", itersize=500)
    return redirect("teacher")
