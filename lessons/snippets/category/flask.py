# A category page cached whole in Flask, keyed by the category's generation:
# a create, a delete or a move raises it, and the next request builds a
# new key. The old entries are never read again and expire on their own.
from flask import abort, render_template, request

# The app, the cache, the model and raise_generations of the create and
# delete snippet, kept in app.py.
from app import CATEGORIES, Product, app, cache, db, raise_generations

PER_PAGE = 20


def page_number():
    raw = request.args.get("page", "1")
    if not raw.isdigit() or not 1 <= int(raw) <= 1_000_000:
        abort(400)
    return int(raw)


def category_key():
    # Only known slugs and a parsed page reach the key, so a visitor
    # cannot fill the cache with keys of their own making.
    slug = request.view_args["slug"]
    if slug not in CATEGORIES:
        abort(404)
    gen = cache.get("gen:category:" + slug) or 0
    return f"page:category:{slug}:p={page_number()}:g={gen}"


@app.get("/categories/<slug>")
@cache.cached(timeout=300, key_prefix=category_key)
def category(slug):
    name, page = CATEGORIES[slug], page_number()
    query = Product.query.filter_by(category=name).order_by(Product.id)
    total = query.count()
    last = max((total + PER_PAGE - 1) // PER_PAGE, 1)
    if page > last:
        abort(400)
    rows = query.offset((page - 1) * PER_PAGE).limit(PER_PAGE).all()
    return render_template("category.html", name=name, total=total, rows=rows, page=page, last=last)


def move(product, new_category):
    # An edit that changes the category must invalidate both categories:
    # the old one loses the row and a product from its count.
    old = product.category
    product.category = new_category
    product.version += 1
    db.session.commit()
    slugs = {c: s for s, c in CATEGORIES.items()}
    raise_generations("list", f"product:{product.id}", "category:" + slugs[old], "category:" + slugs[new_category])
