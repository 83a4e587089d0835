"""Deep recursion: a recursive walk thousands of frames deep, with the work at
the bottom. The report folds direct recursion, so it stays short.

    stroboscope examples/deep_recursion.py
    stroboscope examples/deep_recursion.py --depth 500
"""

import argparse
import sys


def descend(depth):
    if depth == 0:
        return leaf_work()
    return descend(depth - 1)


def leaf_work():
    return sum(i * i for i in range(300_000))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--depth", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=10)
    args = parser.parse_args()
    sys.setrecursionlimit(args.depth + 1000)
    for _ in range(args.repeat):
        total = descend(args.depth)
    print("sum of squares:", total)


if __name__ == "__main__":
    main()
