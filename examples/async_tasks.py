"""Three asyncio tasks at once, each profiling itself.

    python examples/async_tasks.py

Each task's report shows only its own code; the time it spent suspended
(sleeping, or while the other tasks ran) is under its `await` lines, ending
in an [await] leaf.
"""

import asyncio
import json

import stroboscope


def crunch(n):
    """CPU work: parse and sum some JSON, n times."""
    doc = json.dumps([{"id": i, "value": i * 0.5} for i in range(200)])
    total = 0.0
    for _ in range(n):
        total += sum(item["value"] for item in json.loads(doc))
    return total


async def fetch(delay):
    """Stands in for I/O: a network call, a database query."""
    await asyncio.sleep(delay)
    return 400


async def handle(name, delay):
    with stroboscope.Profiler() as profiler:
        for _ in range(3):
            n = await fetch(delay)
            crunch(n)
    print(f"--- {name}")
    profiler.print(color=False)


async def main():
    await asyncio.gather(handle("slow I/O", 0.1), handle("fast I/O", 0.01), handle("no I/O", 0))


if __name__ == "__main__":
    asyncio.run(main())
