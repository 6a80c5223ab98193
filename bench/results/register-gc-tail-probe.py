import sys, time, gc
sys.path.insert(0, "/work/wt-public-scale")
from bench import common
common.setup_django()
from django.conf import settings
settings.PUBLIC_CACHE_SECONDS = 0
from django.db import connection
from django.test import Client
from bench.public_bench import endpoint_paths
from bench.generate import DEFAULT_SEED
paths = endpoint_paths(DEFAULT_SEED)["register list"]
client = Client(HTTP_ACCEPT="application/json", HTTP_HOST="127.0.0.1")
sql = [0.0]
def timed(execute, s, p, many, ctx):
    t = time.perf_counter()
    try: return execute(s, p, many, ctx)
    finally: sql[0] += time.perf_counter() - t
for p in paths: client.get(p)
import os
if os.environ.get("FREEZE"): gc.collect(); gc.freeze(); print("frozen", gc.get_freeze_count())
print("tracked", len(gc.get_objects()))
rows = []
gcs = [0]
gc.callbacks.append(lambda phase, info: gcs.__setitem__(0, gcs[0] + (phase == "start" and info["generation"] == 2)))
for i in range(400):
    p = paths[i % len(paths)]
    sql[0] = 0.0; g = gcs[0]
    t = time.perf_counter(); c = time.process_time()
    with connection.execute_wrapper(timed):
        client.get(p)
    rows.append(((time.perf_counter() - t) * 1000, (time.process_time() - c) * 1000, sql[0] * 1000, gcs[0] - g, p))
rows.sort(reverse=True)
print("p50 wall", sorted(r[0] for r in rows)[200], "p99 wall", sorted(r[0] for r in rows)[396])
for r in rows[:10]:
    print(f"wall {r[0]:6.1f}  cpu {r[1]:6.1f}  sql {r[2]:6.1f}  gen2 gc {r[3]}  {r[4]}")
