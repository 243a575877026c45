# A slow upstream API behind a cache, with a stale copy for when it fails.
import requests
from flask import jsonify, request

CITIES = {"paris", "london", "new york", "tokyo"}    # the names the service knows
ALIASES = {"nyc": "new york"}


def normalize(name):
    # "  PARIS ", "Paris" and "paris" must share one key.
    name = " ".join(name.split()).lower()
    return ALIASES.get(name, name)


# Not @cache.cached(query_string=True): ?city=Paris and ?city=paris would be two
# keys, and every made-up name one more. The key is the normalised city alone.
@app.get("/api/weather")
def weather():
    city = normalize(request.args.get("city", ""))
    if city not in CITIES:
        return jsonify(error="unknown city"), 404     # never a key per name a client invents
    reading = cache.get(f"weather:{city}")
    if reading is not None:
        return jsonify({**reading, "cache": "HIT"})
    try:
        answer = requests.get(UPSTREAM_URL, params={"city": city}, timeout=3)
        answer.raise_for_status()
        reading = answer.json()
    except requests.RequestException as err:
        stale = cache.get(f"weather:stale:{city}")     # the last good reading, kept for this
        if stale is None:
            return jsonify(error=f"weather service failed: {err}"), 502
        return jsonify({**stale, "stale": True})
    cache.set(f"weather:{city}", reading, timeout=60)
    cache.set(f"weather:stale:{city}", reading, timeout=24 * 3600)
    return jsonify({**reading, "cache": "MISS"})
