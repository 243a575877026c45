# The same in Django: the signals post_save and post_delete raise the
# generations of the pages a product appears on, once the transaction has
# committed (transaction.on_commit), so a reader that loaded the old row
# cannot store it under the new generation.
import time

from django.core.cache import cache
from django.db import models, transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.urls import reverse
from django.utils.text import slugify
from django.views.generic import CreateView


class Product(models.Model):
    CATEGORIES = [("Books", "Books"), ("Home & Kitchen", "Home & Kitchen"), ("Toys", "Toys")]
    name = models.CharField(max_length=200)
    category = models.CharField(max_length=40, choices=CATEGORIES)
    price = models.DecimalField(max_digits=9, decimal_places=2)
    stock = models.PositiveIntegerField(default=0)
    version = models.PositiveIntegerField(default=1)

    def get_absolute_url(self):
        return reverse("product-detail", args=[self.pk])


def raise_generations(*names):
    stamp = time.time_ns()  # any value never used before will do
    cache.set_many({"gen:" + n: stamp for n in names}, timeout=None)


@receiver(post_save, sender=Product)
@receiver(post_delete, sender=Product)
def product_changed(sender, instance, **kwargs):
    names = ["list", "category:" + slugify(instance.category), f"product:{instance.pk}"]
    transaction.on_commit(lambda: raise_generations(*names))


class ProductCreate(CreateView):
    # The form validates like the edit form: choices, max_length, decimals.
    model = Product
    fields = ["name", "category", "price", "stock"]
    template_name = "products/new.html"
