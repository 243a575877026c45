# A page the browser may reuse for an hour without asking the server.
from datetime import datetime, timedelta, timezone

from flask import make_response, render_template


@app.get("/static-content")
def static_content():
    response = make_response(render_template("static_content.html"))
    response.cache_control.public = True
    response.cache_control.max_age = 3600            # fresh for an hour: no request at all
    response.expires = datetime.now(timezone.utc) + timedelta(hours=1)   # for HTTP/1.0 caches
    # The page shows the cache mode the cookie picked: a copy made in one mode
    # must not be reused in another.
    response.vary.add("Cookie")
    return response

# Assets with a fingerprint in their name (style.3f9a2c1b.css) can be cached for a
# year, "max-age=31536000, immutable": a new version is a new URL. Flask's own
# /static files keep their names, so SEND_FILE_MAX_AGE_DEFAULT must stay short.
