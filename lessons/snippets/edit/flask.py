# Editing a product: save, then make every cached copy that showed it stale.
from blinker import Namespace
from flask import redirect, render_template, request, url_for

signals = Namespace()
product_saved = signals.signal("product-saved")      # Flask's own signals are blinker signals


@app.post("/products/<int:product_id>/edit")
def product_edit(product_id):
    product = db.get_or_404(Product, product_id)
    form = ProductForm(request.form)
    if not form.validate():
        return render_template("edit.html", form=form, product=product), 422
    # Optimistic locking: the form carries the version it was opened at.
    if form.version.data != product.version:
        return render_template("conflict.html", form=form, product=product), 409
    before = product.category
    form.populate_obj(product)
    product.version += 1
    db.session.commit()
    # After the commit, never before: a reader in between could store the old row
    # again under the new generation numbers.
    product_saved.send(app, product=product, old_category=before)
    return redirect(url_for("product_detail", product_id=product.id), code=303)


@product_saved.connect
def invalidate(sender, product, old_category, **extra):
    # Raise generations rather than hunt keys: every key that carries the old number
    # (see the detail and list pages) is never read again, and expires on its own.
    for name in {f"gen:product:{product.id}", f"gen:category:{old_category}",
                 f"gen:category:{product.category}", "gen:list"}:
        cache.cache.inc(name)                   # the backend's INCR; a missing key starts at 0
    # cache.delete(key) drops one entry; cache.delete_memoized(f) retires every
    # result of a memoised function, by changing a version key: a generation too.
