# A page revalidated with an ETag: If-None-Match, and a 304 with no body.
import hashlib

from flask import render_template, request
from sqlalchemy import select


@app.get("/conditional-content")
def conditional_content():
    recent = db.session.scalars(select(Product).order_by(Product.updated_at.desc()).limit(5)).all()
    # A validator made from what the page shows: the ids and versions of its rows.
    # Weak (W/), because the body also shows when it was rendered.
    tag = hashlib.sha256(",".join(f"{p.id}:{p.version}" for p in recent).encode()).hexdigest()[:16]
    headers = {"ETag": f'W/"{tag}"', "Cache-Control": "no-cache", "Vary": "Cookie"}
    # Checked before rendering: a 304 saves the template's work, not only the bytes.
    if request.if_none_match.contains_weak(tag):
        return "", 304, headers
    return render_template("conditional_content.html", recent=recent), 200, headers
