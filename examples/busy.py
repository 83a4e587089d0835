"""A small CPU-bound program to profile: a bit of pure Python, some json and
re from the standard library, and a short sleep. Runs for about a second.

    stroboscope examples/busy.py
    stroboscope examples/busy.py --rounds 3     # shorter
"""

import argparse
import json
import re
import time

WORD = re.compile(r"[a-z]+")


def primes_below(n):
    """Trial division: deliberately slow, pure Python."""
    found = []
    for candidate in range(2, n):
        if all(candidate % p for p in found if p * p <= candidate):
            found.append(candidate)
    return found


def make_records(count):
    return [{"id": i, "name": f"item-{i}", "tags": ["alpha", "beta", "gamma"][: i % 3 + 1]} for i in range(count)]


def json_round_trip(records):
    return json.loads(json.dumps(records))


def count_words(records):
    counts = {}
    for record in records:
        for word in WORD.findall(" ".join(record["tags"]) + " " + record["name"]):
            counts[word] = counts.get(word, 0) + 1
    return counts


def wait_for_io():
    time.sleep(0.05)  # stands in for a network call: wall time, no CPU


def one_round():
    primes = primes_below(6000)
    records = json_round_trip(make_records(4000))
    words = count_words(records)
    wait_for_io()
    return len(primes), len(words)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    for _ in range(args.rounds):
        result = one_round()
    print("primes and distinct words:", result)


if __name__ == "__main__":
    main()
