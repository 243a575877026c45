# Fibonacci four ways: where a memo lives decides what it costs.
from functools import lru_cache

from flask import request


def fib_naive(n):                                   # no cache: fib(30) makes 2.7 million calls
    return n if n < 2 else fib_naive(n - 1) + fib_naive(n - 2)


@lru_cache(maxsize=None)                            # the memo in this process: a dict lookup a call
def fib_memo(n):
    return n if n < 2 else fib_memo(n - 1) + fib_memo(n - 2)


@cache.memoize(timeout=300)                         # the memo in the cache backend
def fib_remote(n):
    # With RedisCache every call is a network round trip (and memoize adds a
    # version lookup): about 3n of them, slower than recomputing in memory.
    return n if n < 2 else fib_remote(n - 1) + fib_remote(n - 2)


@app.get("/benchmark")
def benchmark():
    n = request.args.get("n", 30, type=int)
    key = f"fib:result:{n}"
    value = cache.get(key)                          # the whole result: one lookup for any n
    if value is None:
        value = str(fib_memo(n))
        cache.set(key, value, timeout=300)
    return {"n": n, "fib": value}
# Cache coarse results across the network; keep fine-grained ones in process.
