"""A Locust file that loads a Flask catalogue as /loadtest loads this one.

    pip install locust
    locust -f flask.py --headless --users 16 --spawn-rate 16 --run-time 30s \
        --host http://127.0.0.1:5000

Each simulated user is one worker with no pause between requests, like the
workshop's workers. Locust prints requests/s and the 50th to 99th
percentiles per request name; this file also counts the X-Cache header
that the app's own after_request hook is assumed to set ("HIT"/"MISS"), so
the hit ratio during the run is printed at the end.
"""
import itertools
from collections import Counter

from locust import HttpUser, constant, events, task

x_cache = Counter()
product_ids = itertools.cycle(range(1, 1001))  # pages 1 to 1000 in turn


class CatalogueUser(HttpUser):
    wait_time = constant(0)  # no think time: measure the server, not the user

    @task(3)
    def product_page(self):
        pid = next(product_ids)
        # name= groups every id under one row, as a route pattern does:
        # a thousand URLs would otherwise make a thousand rows.
        with self.client.get(f"/products/{pid}", name="/products/[id]",
                             catch_response=True) as resp:
            self.count(resp)

    @task(1)
    def list_page(self):
        with self.client.get("/products?page=1", name="/products",
                             catch_response=True) as resp:
            self.count(resp)

    def count(self, resp):
        x_cache[resp.headers.get("X-Cache", "none")] += 1
        if resp.status_code >= 400:
            resp.failure(f"status {resp.status_code}")
        else:
            resp.success()


@events.test_stop.add_listener
def report_hit_ratio(environment, **kwargs):
    hits, misses = x_cache["HIT"], x_cache["MISS"]
    if hits + misses:
        print(f"hit ratio during the run: {hits / (hits + misses):.1%} "
              f"({hits} HIT, {misses} MISS)")
    print("X-Cache counts:", dict(x_cache))
