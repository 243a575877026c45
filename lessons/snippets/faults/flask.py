# The cache is an optimisation: when Redis fails, pages come from the database.
import logging

import redis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)
# Short timeouts: a dead Redis must not make every page wait seconds.
r = redis.Redis.from_url("redis://127.0.0.1:6379/0", socket_timeout=0.2, socket_connect_timeout=0.2)


def cached_page(key, build, ttl=300):
    try:
        body = r.get(key)
    except RedisError as err:
        log.warning("redis unavailable, page built from the database: %s", err)
        return build(), "ERROR"
    if body is not None:
        return body, "HIT"
    body = build()
    try:
        r.set(key, body, ex=ttl)
    except RedisError:
        pass                                        # the page is built; storing it was a bonus
    return body, "MISS"
# @cache.cached and @cache.memoize do the same for you: a backend exception is
# logged and the view runs (in debug mode it is raised). Neither has a circuit
# breaker: after a few failures, skip Redis for a moment instead of waiting on
# every call, as the workshop's Guard does.
