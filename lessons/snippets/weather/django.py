# A slow upstream API behind Django's cache, with a stale copy for failures.
import requests
from django.core.cache import cache
from django.http import JsonResponse


# normalize() and CITIES as in the Flask version: one key per known city.
def weather(request):
    city = normalize(request.GET.get("city", ""))
    if city not in CITIES:
        return JsonResponse({"error": "unknown city"}, status=404)
    fresh_key, stale_key = f"weather:{city}", f"weather:stale:{city}"
    found = cache.get_many([fresh_key, stale_key])     # both copies in one round trip (MGET)
    if fresh_key in found:
        return JsonResponse({**found[fresh_key], "cache": "HIT"})
    try:
        answer = requests.get(UPSTREAM_URL, params={"city": city}, timeout=3)
        answer.raise_for_status()
        reading = answer.json()
    except requests.RequestException as err:
        if stale_key in found:                         # old, but better than an error
            return JsonResponse({**found[stale_key], "stale": True, "warning": str(err)})
        return JsonResponse({"error": f"weather service failed: {err}"}, status=502)
    cache.set_many({fresh_key: reading}, timeout=60)   # the TTL: a minute
    cache.set(stale_key, reading, timeout=24 * 60 * 60)
    return JsonResponse({**reading, "cache": "MISS"})
