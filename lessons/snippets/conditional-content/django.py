# A page revalidated with an ETag: If-None-Match, and a 304 with no body.
import hashlib

from django.shortcuts import render
from django.views.decorators.cache import cache_control
from django.views.decorators.http import condition
from django.views.decorators.vary import vary_on_cookie


def recent_products():
    return Product.objects.order_by("-updated_at", "-id")[:5]


def recent_etag(request):
    rows = ",".join(f"{p.id}:{p.version}" for p in recent_products())
    return 'W/"%s"' % hashlib.sha256(rows.encode()).hexdigest()[:16]


# @condition calls recent_etag first and answers 304, without running the view,
# when If-None-Match carries that tag.
@cache_control(no_cache=True)
@vary_on_cookie
@condition(etag_func=recent_etag)
def conditional_content(request):
    return render(request, "conditional_content.html", {"recent": recent_products()})
