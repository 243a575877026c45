# Several gunicorn workers or servers: SimpleCache is one dict per process.
# Each process misses once, and an edit on one leaves the others stale.
from flask import Flask
from flask_caching import Cache

app = Flask(__name__)

# Per process: fine for one worker, wrong behind a load balancer.
local = Cache(app, config={"CACHE_TYPE": "SimpleCache", "CACHE_DEFAULT_TIMEOUT": 600})


def save_item(db, value):
    db.execute("UPDATE item SET value = ?, version = version + 1", (value,))
    local.delete("item")            # only this process forgets its copy


# The fix the workshop's demo shows: tell every process over Redis pub/sub.
import redis  # noqa: E402

bus = redis.Redis()


def save_item_everywhere(db, value):
    db.execute("UPDATE item SET value = ?, version = version + 1", (value,))
    local.delete("item")
    bus.publish("invalidate", "item")


def listen():
    # Runs in a thread in every process.
    sub = bus.pubsub()
    sub.subscribe("invalidate")
    for msg in sub.listen():
        if msg["type"] == "message":
            local.delete(msg["data"].decode())
