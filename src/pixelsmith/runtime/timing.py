"""Fair timing of several ways to do the same work on one machine.

On a shared machine the speed changes from moment to moment, and after a call the threads of
its library (OpenMP, ONNX Runtime's pool) keep spinning for a while, slowing whatever runs
next. So the candidates take turns, round after round, with a pause before each timed call,
and each keeps its fastest call.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping


def fastest_interleaved(runs: Mapping[str, Callable[[], object]], rounds: int,
                        settle: float) -> dict[str, float]:
    """Seconds of the fastest call of each of ``runs``: one warm-up call each (kernels chosen,
    sessions built), then ``rounds`` rounds in turn, ``settle`` seconds of idling before each
    timed call."""
    for run in runs.values():
        run()
    fastest = dict.fromkeys(runs, float("inf"))
    for _ in range(rounds):
        for name, run in runs.items():
            time.sleep(settle)
            start = time.perf_counter()
            run()
            fastest[name] = min(fastest[name], time.perf_counter() - start)
    return fastest
