# A hot key expires and a hundred requests miss at once: let one rebuild it.
import time
import uuid

import redis

r = redis.Redis.from_url("redis://127.0.0.1:6379/0")
# Deletes the lock only while it still holds our token: a holder whose lock
# expired must not release someone else's.
unlock = r.register_script(
    "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0")


def get_or_rebuild(key, rebuild, ttl=60, lock_ms=5000, wait_s=3.0):
    value = r.get(key)
    if value is not None:
        return value
    token = uuid.uuid4().hex
    if r.set(f"lock:{key}", token, nx=True, px=lock_ms):   # SET NX PX: one holder in all processes
        try:
            value = rebuild()
            r.set(key, value, ex=ttl)
            return value
        finally:
            unlock(keys=[f"lock:{key}"], args=[token])
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:              # the others wait for the holder's result
        time.sleep(0.01)
        value = r.get(key)
        if value is not None:
            return value
    return rebuild()                                # the holder is too slow: load it ourselves
# redis-py's r.lock(name, timeout=5, blocking_timeout=3) packages the same lock.
