# A category page in Django, cached under a key that carries the
# category's generation, and the move case: pre_save remembers the old
# category, so the post_save receiver raises both.
from django.core.cache import cache
from django.core.paginator import EmptyPage, Paginator
from django.db import transaction
from django.db.models.signals import post_save, pre_save
from django.dispatch import receiver
from django.http import Http404, HttpResponse, HttpResponseBadRequest
from django.template.loader import render_to_string
from django.utils.text import slugify

from .models import Product, raise_generations

CATEGORIES = {slugify(c): c for c, _ in Product.CATEGORIES}


def category(request, slug):
    name = CATEGORIES.get(slug)
    if name is None:
        raise Http404("There is no such category.")
    raw = request.GET.get("page", "1")
    if not raw.isdigit():
        return HttpResponseBadRequest("page must be a whole number")
    gen = cache.get_or_set("gen:category:" + slug, 0, timeout=None)
    key = f"page:category:{slug}:p={int(raw)}:g={gen}"
    html = cache.get(key)
    if html is None:
        paginator = Paginator(Product.objects.filter(category=name).order_by("id"), 20)
        try:
            page = paginator.page(int(raw))
        except EmptyPage:
            return HttpResponseBadRequest("page is past the last one")
        html = render_to_string("products/category.html", {"name": name, "page": page}, request)
        cache.set(key, html, 300)
    return HttpResponse(html)


@receiver(pre_save, sender=Product)
def remember_category(sender, instance, **kwargs):
    if instance.pk:
        old = Product.objects.filter(pk=instance.pk).values_list("category", flat=True).first()
        instance._old_category = old


@receiver(post_save, sender=Product)
def moved(sender, instance, created, **kwargs):
    old = getattr(instance, "_old_category", None)
    if not created and old and old != instance.category:
        names = ["category:" + slugify(old), "category:" + slugify(instance.category)]
        transaction.on_commit(lambda: raise_generations(*names))
