# A product page, /products/7: slow to build (a slow query), so cached whole.
from flask import render_template
from sqlalchemy import func, select


def detail_key(product_id):
    # The product's generation is part of the key: an edit raises it (see the edit
    # page), and the entry built before is never read again. That costs a second
    # round trip; the workshop reads the generations and the page in one MGET.
    gen = cache.get(f"gen:product:{product_id}") or 0
    return f"detail:{product_id}:g{gen}"


@app.get("/products/<int:product_id>")
@cache.cached(timeout=300, make_cache_key=detail_key)
def product_detail(product_id):
    product = db.get_or_404(Product, product_id)
    return render_template("detail.html", product=product, summary=catalogue_summary())


# The sidebar: an aggregate over every product, memoised for a minute and not
# invalidated by edits, so its figures may lag for up to a minute (on purpose).
@cache.memoize(timeout=60)
def catalogue_summary():
    query = select(Product.category, func.count(), func.avg(Product.price)).group_by(Product.category)
    return db.session.execute(query).all()
