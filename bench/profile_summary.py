"""Summarize py-spy ``--format raw`` (collapsed stacks) files: where the samples went.

    python -m bench.profile_summary bench/results/profile-accept-*.txt [--top 40] [--match adapters]

Prints, for every frame, the share of samples it appears in (inclusive) and is on top of (self).
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from pathlib import Path

_FRAME = re.compile(r"^(?P<function>.*?) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")


def _short(frame: str) -> str:
    match = _FRAME.match(frame)
    if not match:
        return frame
    path = match["file"]
    for marker in ("site-packages/", "/lib/python3.11/", "/work/main/"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    return f"{match['function']} ({path})"


def summarize(paths: list[Path]) -> tuple[int, Counter[str], Counter[str]]:
    total = 0
    inclusive: Counter[str] = Counter()
    self_time: Counter[str] = Counter()
    for path in paths:
        for line in path.read_text().splitlines():
            stack, _, count_text = line.rpartition(" ")
            if not stack or not count_text.isdigit():
                continue
            count = int(count_text)
            frames = [_short(frame) for frame in stack.split(";")]
            total += count
            for frame in set(frames):
                inclusive[frame] += count
            self_time[frames[-1]] += count
    return total, inclusive, self_time


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--match", default="", help="only frames containing this text")
    args = parser.parse_args()
    total, inclusive, self_time = summarize(args.files)
    print(f"{total} samples")
    print("\ninclusive:")
    for frame, count in inclusive.most_common():
        if args.match in frame:
            print(f"  {count / total:6.1%}  {frame}")
            args.top -= 1
            if args.top <= 0:
                break
    print("\nself:")
    for frame, count in self_time.most_common(25):
        print(f"  {count / total:6.1%}  {frame}")


if __name__ == "__main__":
    main()
