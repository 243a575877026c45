# Invalidation strategies with Flask-Caching over Redis. The edit always
# commits first; what follows the commit is the strategy.
# db and Product stand for the application's own models.
import redis
from flask import Flask
from flask_caching import Cache
from flask_sqlalchemy.track_modifications import models_committed

app = Flask(__name__)
app.config.update(CACHE_TYPE="RedisCache", CACHE_REDIS_URL="redis://localhost:6379/0",
                  CACHE_KEY_PREFIX="shop:", CACHE_DEFAULT_TIMEOUT=600)
cache = Cache(app)
r = redis.Redis.from_url(app.config["CACHE_REDIS_URL"], decode_responses=True)


@cache.memoize()
def product(pid):
    return db.product(pid)


@cache.memoize()
def category_page(slug):
    return db.category(slug)


def save_price_forget(pid, price):
    db.update_price(pid, price)  # every cached copy stays stale for 600 s


def save_price_delete(pid, price):
    db.update_price(pid, price)
    cache.delete_memoized(product, pid)  # the detail is fresh...
    # ...but every page that lists the product is an entry of its own:
    cache.delete_memoized(category_page, db.category_of(pid))
    cache.delete("view//products")  # @cache.cached() keys on "view/" + path


def delete_by_pattern(pattern="shop:*"):
    # Flask-Caching has no pattern delete. SCAN walks the keyspace a slice
    # at a time (KEYS would block Redis); UNLINK frees memory off-thread.
    for key in r.scan_iter(match=pattern, count=1000):
        r.unlink(key)


# Generations: a counter per group, read before the database, stored with
# the value. Raising it after the commit makes old copies misses.
def generation(name):
    return int(r.get("gen:" + name) or 0)


def cached_category(slug):
    gen = generation("category:" + slug)  # first the generation...
    hit = cache.get("category:" + slug)
    if hit is not None and hit["gen"] == gen:
        return hit["value"]
    value = db.category(slug)  # ...then the database
    cache.set("category:" + slug, {"gen": gen, "value": value})
    return value


def save_price_generations(pid, price):
    db.update_price(pid, price)  # commit, then raise
    r.incr("gen:category:" + db.category_of(pid))


# Tags: each entry joins the set of every product it shows.
def cache_with_tags(key, value, product_ids, timeout=600):
    cache.set(key, value, timeout=timeout)
    for pid in product_ids:
        r.sadd("tag:product:%d" % pid, key)
        r.expire("tag:product:%d" % pid, timeout)


def invalidate_tag(pid):
    tag = "tag:product:%d" % pid
    cache.delete_many(*r.smembers(tag))  # Flask-Caching adds the prefix
    r.unlink(tag)


def save_price_write_through(pid, price):
    db.update_price(pid, price)
    # For a view read with cache.get("product:<id>"). Racy: a reader that
    # read the old row just before this line can store it just after, and
    # nothing corrects it before the timeout.
    cache.set("product:%d" % pid, db.product(pid))


# On every commit, whoever made it (Flask-SQLAlchemy 3, with
# SQLALCHEMY_TRACK_MODIFICATIONS = True).
@models_committed.connect_via(app)
def on_commit(sender, changes):
    for obj, operation in changes:
        if isinstance(obj, Product):
            invalidate_tag(obj.id)
