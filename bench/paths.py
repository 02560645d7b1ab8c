"""Where this checkout is, and the benchmarks' own home in it (.bench-home/)."""

from __future__ import annotations

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
BENCH_HOME = PROJECT_ROOT / ".bench-home"
