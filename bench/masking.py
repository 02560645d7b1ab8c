"""Masking benchmark: shiplog's Masker (every encoded form) beside plain `str.replace`.

    .venv/bin/python -m bench.masking [--lines 20000] [--secrets 5] [--reps 5]

Every stored and shown line of step output goes through the run's Masker, which looks
for each secret as written and in its base64 (three alignments, two alphabets), hex and
URL-encoded forms, and for pieces of wrapped encodings. The baseline is what masking as
written alone costs at its simplest: one `str.replace` per secret. Both mask the same
lines of a synthetic build log (compiler-like lines, one in fifty holding a secret, one
in a hundred an encoded one) with the same secrets; the two take turns in each
repetition. Figures are medians; the last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import platform
import random
import statistics
from collections.abc import Callable
from time import perf_counter

from app.executor.actions.masking import MASK, Masker


def sample_lines(count: int, secrets: list[str], seed: int = 7) -> list[str]:
    """A build log: mostly ordinary lines, some with a secret plain or in base64."""
    chance = random.Random(seed)
    words = ["gcc", "-O2", "-c", "src/module.c", "-o", "build/module.o", "Step", "RUN", "ok"]
    lines = []
    for number in range(count):
        line = " ".join(chance.choice(words) for _ in range(chance.randint(4, 14)))
        if number % 50 == 0:
            line += f" token={chance.choice(secrets)}"
        elif number % 100 == 1:
            line += " " + base64.b64encode(chance.choice(secrets).encode()).decode()
        lines.append(line)
    return lines


def replace_all(secrets: list[str]) -> Callable[[str], str]:
    """The baseline: each secret as written, replaced with str.replace."""

    def mask(line: str) -> str:
        for secret in secrets:
            line = line.replace(secret, MASK)
        return line

    return mask


def time_masking(mask: Callable[[str], str], lines: list[str]) -> float:
    """Seconds to mask every line once."""
    started = perf_counter()
    for line in lines:
        mask(line)
    return perf_counter() - started


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=20_000)
    parser.add_argument("--secrets", type=int, default=5)
    parser.add_argument("--reps", type=int, default=5)
    options = parser.parse_args()
    chance = random.Random(11)
    secrets = [
        "".join(chance.choice("abcdefghijklmnopqrstuvwxyz0123456789-_/+=") for _ in range(40))
        for _ in range(options.secrets)
    ]
    lines = sample_lines(options.lines, secrets)
    masker = Masker(secrets)
    systems: dict[str, Callable[[str], str]] = {
        "str.replace (as written)": replace_all(secrets),
        "Masker (every form)": masker.mask,
    }
    timings: dict[str, list[float]] = {name: [] for name in systems}
    for repetition in range(options.reps):
        order = list(systems)[repetition % 2 :] + list(systems)[: repetition % 2]
        for name in order:
            timings[name].append(time_masking(systems[name], lines))
    medians = {name: statistics.median(values) for name, values in timings.items()}
    baseline = medians["str.replace (as written)"]
    print(
        f"{options.lines} lines, {options.secrets} secrets of 40 characters, median of "
        f"{options.reps}; load {os.getloadavg()[0]:.1f}, Python {platform.python_version()}"
    )
    for name, seconds in medians.items():
        print(
            f"  {name:26} {options.lines / seconds:>12,.0f} lines/s  "
            f"{seconds / options.lines * 1e6:7.2f} µs/line  {seconds / baseline:6.1f}x"
        )
    print(json.dumps({"lines": options.lines, "secrets": options.secrets, "seconds": medians}))


if __name__ == "__main__":
    main()
