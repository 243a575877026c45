# The product list, /products?page=2: the whole page cached, its rows fetched in one round trip.
from flask import Flask, render_template, request
from flask_caching import Cache
from sqlalchemy import select

app = Flask(__name__)
cache = Cache(app, config={
    "CACHE_TYPE": "RedisCache",          # "SimpleCache" is the memory mode: one copy per process
    "CACHE_REDIS_URL": "redis://127.0.0.1:6379/0",
    "CACHE_KEY_PREFIX": "cw:",           # every key is namespaced, as cw: is here
})


# query_string=True keys the page on its path and a hash of the sorted arguments:
# ?page=2 and ?page=3 are two entries. Every argument counts, so ?page=2&from=newsletter
# is a third one; the workshop keys a list page on page and per_page only. An edit
# cannot reach these keys either: see the edit page for keys that carry a generation.
@app.get("/products")
@cache.cached(timeout=300, query_string=True)
def product_list():
    page = request.args.get("page", 1, type=int)
    per_page = min(request.args.get("per_page", 20, type=int), 100)
    products = db.paginate(select(Product).order_by(Product.id), page=page, per_page=per_page)
    return render_template("list.html", products=products, rows=cached_rows(products.items))


def cached_rows(products):
    # One key per row, made of the id and the version: an edited row gets a new key.
    keys = [f"row:{p.id}:v{p.version}" for p in products]
    found = cache.get_many(*keys)                      # one MGET for the whole page
    rows, missing = [], {}
    for p, key, html in zip(products, keys, found):
        if html is None:
            html = missing[key] = render_template("row.html", p=p)
        rows.append(html)
    if missing:
        cache.set_many(missing, timeout=300)           # the misses, in one round trip too
    return rows
