# Teacher controls, the Flask way. CACHE_DEFAULT_TIMEOUT and CACHE_THRESHOLD are read
# once, at start-up: changing them means a restart. The workshop changes its own live.
import hmac

import redis
from flask import abort, current_app, redirect, request, url_for

r = redis.Redis.from_url("redis://127.0.0.1:6379/0")

app.config.update(
    CACHE_TYPE="SimpleCache",
    CACHE_DEFAULT_TIMEOUT=30,                       # the page TTL, in seconds
    CACHE_THRESHOLD=50,                             # entries SimpleCache keeps before dropping some
)


def require_admin():
    token = request.form.get("admin_token", "")
    if not hmac.compare_digest(token, current_app.config["ADMIN_TOKEN"]):
        abort(403)


@app.post("/teacher/clear")
def clear_redis():
    require_admin()
    # Not cache.clear(): on Redis it runs KEYS with a prefix (the server blocks while
    # it walks every key) and FLUSHDB without one (everybody's data goes). SCAN in
    # steps and UNLINK in batches, under our prefix only, keeping the generations.
    batch = []
    for key in r.scan_iter(match="cw:*", count=500):
        if not key.startswith(b"cw:gen:"):
            batch.append(key)
        if len(batch) >= 500:
            r.unlink(*batch)
            batch.clear()
    if batch:
        r.unlink(*batch)
    return redirect(url_for("teacher"), code=303)
