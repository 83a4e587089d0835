"""Workloads shared by the benchmarks. Each takes a size and returns a value
so nothing is optimised away."""

import collections
import json
import re
import sys
import threading
import time


def call_heavy(n=30):
    def fib(k):
        return k if k < 2 else fib(k - 1) + fib(k - 2)

    return fib(n)


class Vec:
    __slots__ = ("x", "y")

    def __init__(self, x, y):
        self.x = x
        self.y = y

    def __add__(self, other):
        return Vec(self.x + other.x, self.y + other.y)

    @property
    def norm2(self):
        return self.x * self.x + self.y * self.y


class Body:
    def __init__(self, i):
        self.pos = Vec(i, -i)
        self.vel = Vec(1, 2)

    def step(self):
        self.pos = self.pos + self.vel
        return self.pos.norm2


def object_oriented(n=600000):
    bodies = [Body(i) for i in range(100)]
    total = 0
    for _ in range(n // 100):
        for b in bodies:
            total += b.step()
    return total


DOC = {"users": [{"id": i, "name": f"user{i}", "tags": ["a", "b", str(i)]} for i in range(200)]}
WORD = re.compile(r"[a-z]+(\d+)")


def stdlib_heavy(n=400):
    total = 0
    for _ in range(n):
        text = json.dumps(DOC)
        back = json.loads(text)
        counts = collections.Counter(WORD.findall(text))
        total += len(back["users"]) + len(counts)
        total += len(" ".join(sorted(str(u["id"]) for u in back["users"])))
    return total


def deep_recursion(n=600, depth=900):
    def down(k):
        if k == 0:
            return sum(i for i in range(2000))
        return down(k - 1) + 1

    total = 0
    for _ in range(n):
        total += down(depth)
    return total


def four_threads(n=4):
    """Four busy threads, the main thread joining them."""
    out = []

    def work():
        out.append(call_heavy(29))

    ts = [threading.Thread(target=work) for _ in range(n)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return sum(out)


WORKLOADS = {
    "call-heavy": call_heavy,
    "object-oriented": object_oriented,
    "stdlib-heavy": stdlib_heavy,
    "deep-recursion": deep_recursion,
    "four-threads": four_threads,
}

if __name__ == "__main__":
    sys.setrecursionlimit(5000)
    for name, fn in WORKLOADS.items():
        t0 = time.perf_counter()
        fn()
        print(f"{name}: {time.perf_counter() - t0:.3f} s")
