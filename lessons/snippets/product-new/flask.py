# Creating and deleting a product in Flask, with the invalidation the
# workshop does: commit first, then raise the generations of every page
# the write changed. Pages keep their keys; a page built under an older
# generation is simply never read again.
import time
from decimal import Decimal, InvalidOperation

from flask import Flask, abort, redirect, request
from flask_caching import Cache
from flask_sqlalchemy import SQLAlchemy
from flask_sqlalchemy.track_modifications import models_committed

app = Flask(__name__)
app.config.update(
    SQLALCHEMY_DATABASE_URI="sqlite:///workshop.db",
    SQLALCHEMY_TRACK_MODIFICATIONS=True,  # needed for models_committed
    CACHE_TYPE="RedisCache",
    CACHE_REDIS_URL="redis://localhost:6379/0",
)
db = SQLAlchemy(app)
cache = Cache(app)
CATEGORIES = {"books": "Books", "home-kitchen": "Home & Kitchen", "toys": "Toys"}


class Product(db.Model):
    id = db.Column(db.Integer, primary_key=True)
    name = db.Column(db.String(200), nullable=False)
    category = db.Column(db.String(40), nullable=False)
    price_cents = db.Column(db.Integer, nullable=False)
    version = db.Column(db.Integer, nullable=False, default=1)


def slug(category):
    return next(s for s, c in CATEGORIES.items() if c == category)


def raise_generations(*names):
    # The value only has to be new: a timestamp in nanoseconds will do
    # (the workshop uses the id of the change in its outbox table).
    stamp = time.time_ns()
    cache.set_many({"gen:" + n: stamp for n in names}, timeout=0)


@models_committed.connect_via(app)
def on_commit(sender, changes):
    # Sent after the commit, so no reader can cache the old rows again
    # under the new generations.
    for obj, operation in changes:
        if isinstance(obj, Product) and operation in ("insert", "delete"):
            # Every list page shifts, so all of them go with one write.
            raise_generations("list", "category:" + slug(obj.category), f"product:{obj.id}")


@app.post("/products/new")
def create_product():
    name = request.form.get("name", "").strip()
    category = request.form.get("category", "")
    try:
        price = Decimal(request.form["price"])
    except (KeyError, InvalidOperation):
        abort(422)
    if not price.is_finite() or price.as_tuple().exponent < -2:
        abort(422)  # at most two decimals, like 19.99
    price_cents = int(price * 100)
    if not 1 <= len(name) <= 200 or category not in CATEGORIES.values() or not 0 <= price_cents <= 100_000_000:
        abort(422)
    p = Product(name=name, category=category, price_cents=price_cents)
    db.session.add(p)
    db.session.commit()  # models_committed fires here
    return redirect(f"/products/{p.id}", 303)


@app.post("/products/<int:product_id>/delete")
def delete_product(product_id):
    p = db.get_or_404(Product, product_id)
    if request.form.get("version") != str(p.version):
        abort(409)  # saved by someone else since the form was opened
    db.session.delete(p)
    db.session.commit()
    return redirect("/products", 303)
