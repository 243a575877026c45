# A product page, /products/7/, cached whole in Django.
from django.db.models import Avg, Count, Max, Min
from django.shortcuts import get_object_or_404, render
from django.views.decorators.cache import cache_page


# cache_page keys the response on its URL: the simplest whole-view cache, and an
# edit shows after up to five minutes. The workshop stamps its entry with the
# product's and its category's generations instead, so an edit shows at once.
@cache_page(60 * 5)
def product_detail(request, pk):
    product = get_object_or_404(Product, pk=pk)
    prices = Product.objects.filter(category=product.category).aggregate(
        avg=Avg("price"), low=Min("price"), high=Max("price"))
    # A queryset is lazy: the sidebar's query runs only when the template's
    # {% cache %} fragment misses and renders it.
    summary = Product.objects.values("category").annotate(count=Count("id"), avg_price=Avg("price"))
    return render(request, "products/detail.html", {"product": product, "prices": prices, "summary": summary})


# settings.py: ConditionalGetMiddleware gives every page an ETag computed from its
# body and answers a matching If-None-Match with 304, as the workshop's product
# pages do (their ETag is a digest of the body).
MIDDLEWARE = [
    "django.middleware.http.ConditionalGetMiddleware",
    # ...
]
