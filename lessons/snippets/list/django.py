# The product list, /products/?page=2, in Django.
import hashlib

from django.core.paginator import Paginator
from django.shortcuts import render

# settings.py: django-redis behind the default cache.
CACHES = {
    "default": {
        "BACKEND": "django_redis.cache.RedisCache",   # LocMemCache is the memory mode
        "LOCATION": "redis://127.0.0.1:6379/0",
        "KEY_PREFIX": "cw",                           # keys become cw:1:<key>
        "TIMEOUT": 300,
    }
}


# @cache_page(60 * 5) would store this whole response under a key made from the full
# URL (?from=newsletter included): quick, but an edit could not reach that key and would
# show after five minutes. Here the fragments of the template are keyed by what they
# show, so an edit misses exactly the parts it changed.
def product_list(request):
    paginator = Paginator(Product.objects.order_by("id"), per_page=20)
    page = paginator.get_page(request.GET.get("page"))
    versions = ",".join(f"{p.id}:{p.version}" for p in page)
    return render(request, "products/list.html", {
        "page": page,
        "versions_digest": hashlib.sha256(versions.encode()).hexdigest()[:12],
    })
