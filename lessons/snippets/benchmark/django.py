# Fibonacci with Django's cache: a memo per subproblem, or the whole result.
from functools import lru_cache

from django.core.cache import cache
from django.http import JsonResponse


@lru_cache(maxsize=None)                            # in process: nanoseconds a lookup
def fib_memo(n):
    return n if n < 2 else fib_memo(n - 1) + fib_memo(n - 2)


def fib_in_cache(n):
    # The memo in the configured cache: with Redis, a round trip per lookup and
    # per store. For small n recomputing is faster than asking.
    if n < 2:
        return n
    value = cache.get(f"fib:memo:{n}")
    if value is None:
        value = fib_in_cache(n - 1) + fib_in_cache(n - 2)
        cache.set(f"fib:memo:{n}", value, timeout=300)
    return value


def benchmark(request):
    n = int(request.GET.get("n", 30))
    # get_or_set: one lookup, and the callable runs only on a miss.
    value = cache.get_or_set(f"fib:result:{n}", lambda: str(fib_memo(n)), timeout=300)
    return JsonResponse({"n": n, "fib": value})
