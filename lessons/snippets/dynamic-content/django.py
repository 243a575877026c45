# A page the browser keeps but must revalidate: Last-Modified and If-Modified-Since.
from django.db.models import Max
from django.shortcuts import render
from django.views.decorators.cache import cache_control
from django.views.decorators.http import condition
from django.views.decorators.vary import vary_on_cookie


def latest_change(request):
    return Product.objects.aggregate(latest=Max("updated_at"))["latest"]


# @condition calls latest_change first and answers 304, without running the view,
# when If-Modified-Since is not older. The decorators above it apply to the 304 too.
@cache_control(no_cache=True, must_revalidate=True)
@vary_on_cookie
@condition(last_modified_func=latest_change)
def dynamic_content(request):
    recent = Product.objects.order_by("-updated_at")[:5]
    return render(request, "dynamic_content.html", {"recent": recent})
