# Invalidation strategies with Django's cache framework (django-redis for
# the pattern delete and the tags). Each runs after the commit.
from django.core.cache import cache
from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django_redis import get_redis_connection

from shop.models import Product  # render_* stand for the app's own views

# Delete the key, and every page that shows the product: you must know
# them all.
def delete_keys(p):
    cache.delete_many([f"product:{p.pk}", f"category:{p.category}", "products:page:1"])

# Delete by pattern: django-redis walks the keyspace with SCAN, itersize
# keys at a time, never KEYS. Its cost grows with every key in Redis.
def delete_everything_of(p):
    cache.delete_pattern(f"product:{p.pk}:*", itersize=1000)

# Generations: the version argument is the key's generation, kept in a
# counter of its own. (cache.incr_version moves one key's value to the
# next version, keeping it: that is not an invalidation.)
def generation(name):
    return cache.get_or_set(f"gen:{name}", 1, timeout=None)

def category_page(slug):
    v = generation(f"category:{slug}")          # first the generation...
    html = cache.get(f"category:{slug}", version=v)
    if html is None:
        html = render_category(slug)            # ...then the database
        cache.set(f"category:{slug}", html, 600, version=v)
    return html

def raise_generation(name):
    try:
        cache.incr(f"gen:{name}")               # old versions age out
    except ValueError:                          # the counter was evicted:
        cache.set(f"gen:{name}", 2, timeout=None)  # never go back to 1

# Tags: a Redis set per product, holding the keys of every entry that
# shows it (full keys, as cache.make_key builds them).
def cache_with_tags(key, value, pks, timeout=600):
    cache.set(key, value, timeout)
    r = get_redis_connection("default")
    for pk in pks:
        r.sadd(f"tag:product:{pk}", cache.make_key(key))
        r.expire(f"tag:product:{pk}", timeout)

def invalidate_tag(pk):
    r = get_redis_connection("default")
    tag = f"tag:product:{pk}"
    keys = r.smembers(tag)
    if keys:
        r.unlink(*keys)
    r.unlink(tag)

# Write-through: racy (a reader's old row can land just after this).
def write_through(p):
    cache.set(f"product:{p.pk}", render_product(p), 600)

# Invalidation on save, once the transaction has committed: a reader
# between the delete and the commit would otherwise refill the old row.
@receiver(post_save, sender=Product)
@receiver(post_delete, sender=Product)
def product_changed(sender, instance, **kwargs):
    def after_commit():
        raise_generation(f"category:{instance.category}")
        invalidate_tag(instance.pk)
    transaction.on_commit(after_commit)
