# Editing a product: save with a version check, invalidate once committed.
from django.core.cache import cache
from django.db import transaction
from django.db.models.signals import post_save
from django.dispatch import receiver
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache


@never_cache                                        # a form is this visitor's own: never stored
def product_edit(request, pk):
    product = get_object_or_404(Product, pk=pk)
    form = ProductForm(request.POST or None, instance=product)
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            current = Product.objects.select_for_update().get(pk=pk)
            if current.version != form.cleaned_data["expected_version"]:
                return render(request, "products/conflict.html", {"form": form, "current": current}, status=409)
            product.version = current.version + 1
            form.save()                             # post_save fires inside the transaction
        return redirect("product_detail", pk=pk)
    return render(request, "products/edit.html", {"form": form, "product": product},
                  status=422 if form.errors else 200)


@receiver(post_save, sender=Product)
def product_saved(sender, instance, **kwargs):
    # on_commit: the generations rise after the row is committed, never before.
    # (A product moved to another category needs the old one too: keep it in pre_save.)
    names = [f"gen:product:{instance.pk}", f"gen:category:{instance.category}", "gen:list"]
    transaction.on_commit(lambda: bump(names))


def bump(names):
    for name in names:
        cache.add(name, 0, timeout=None)            # incr needs the key; add never overwrites
        cache.incr(name)                            # entries built under the old number are stale
