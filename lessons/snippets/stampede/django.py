# Stampede protection with Django's cache: add() is atomic, so one caller wins.
import time

from django.core.cache import cache


def get_or_rebuild(key, rebuild, timeout=60):
    value = cache.get(key)
    if value is not None:
        return value
    if cache.add(f"lock:{key}", 1, timeout=5):      # only one caller gets True (SET NX on Redis)
        try:
            value = rebuild()
            cache.set(key, value, timeout)
            return value
        finally:
            # Not token-checked: safe only while rebuild() takes less than the
            # lock's five seconds (the Flask version checks a token).
            cache.delete(f"lock:{key}")
    for _ in range(300):                            # wait up to 3 s for the holder's result
        time.sleep(0.01)
        value = cache.get(key)
        if value is not None:
            return value
    return rebuild()
