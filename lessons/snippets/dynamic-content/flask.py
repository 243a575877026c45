# A page the browser keeps but must revalidate: Last-Modified and If-Modified-Since.
from datetime import datetime, timezone

from flask import make_response, render_template, request
from sqlalchemy import select

STARTED = datetime.now(timezone.utc).replace(microsecond=0)


@app.get("/dynamic-content")
def dynamic_content():
    recent = db.session.scalars(select(Product).order_by(Product.updated_at.desc()).limit(5)).all()
    response = make_response(render_template("dynamic_content.html", recent=recent))
    response.cache_control.no_cache = True           # keep a copy, but ask before each use
    response.cache_control.must_revalidate = True
    response.last_modified = recent[0].updated_at if recent else STARTED
    response.vary.add("Cookie")
    # If-Modified-Since at or after Last-Modified: the body is dropped and the
    # answer becomes a 304. The template has already run by then; the workshop
    # compares before rendering, as Django's @condition does.
    return response.make_conditional(request)
