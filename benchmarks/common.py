"""What every benchmark shares: the run's meta block (machine, threads, command, date), result
JSON, Markdown tables, and the marked docs section each script owns and rewrites."""

from __future__ import annotations

import json
import os
import resource
import shlex
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pixelsmith.io import atomic_write_text
from pixelsmith.sysinfo import cpu_features, cpu_model, machine_summary


def run_meta() -> dict[str, Any]:
    """Machine (CPU model, cores, torch threads), the command as typed, and the date."""
    import torch

    return {"machine": machine_summary(), "threads": torch.get_num_threads(),
            "command": "python -m " + shlex.join([_module_name(), *sys.argv[1:]]),
            "date": time.strftime("%Y-%m-%d %H:%M")}


def _module_name() -> str:
    main = sys.modules.get("__main__")
    spec = getattr(main, "__spec__", None)
    return spec.name if spec is not None else Path(sys.argv[0]).stem


@dataclass(frozen=True)
class LoadSnapshot:
    """How much CPU the whole machine and this process had used at one moment, so that two
    snapshots tell how many cores other processes kept busy in between."""

    wall_s: float
    machine_busy_s: float | None  # every core's non-idle seconds since boot (None: no /proc/stat)
    own_cpu_s: float  # this process's threads and its finished children
    load_average: float | None  # the 1-minute load average, where the platform has one


def _machine_busy_seconds() -> float | None:
    """Non-idle CPU seconds of all cores since boot, from /proc/stat (user, nice, system, irq,
    softirq; guest time is already inside user), or None off Linux."""
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()
    except OSError:
        return None
    if fields[0] != "cpu":
        return None
    user, nice, system, _idle, _iowait, irq, softirq = map(int, fields[1:8])
    return (user + nice + system + irq + softirq) / os.sysconf("SC_CLK_TCK")


def load_now() -> LoadSnapshot:
    """A snapshot to pass to :func:`load_line` (one before the timed work, one after)."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    try:
        load_average = os.getloadavg()[0]
    except (AttributeError, OSError):
        load_average = None
    return LoadSnapshot(time.monotonic(), _machine_busy_seconds(),
                        time.process_time() + children.ru_utime + children.ru_stime,
                        load_average)


def other_cores(before: LoadSnapshot, after: LoadSnapshot) -> float | None:
    """Cores other processes kept busy on average between two snapshots (None off Linux)."""
    wall = after.wall_s - before.wall_s
    if before.machine_busy_s is None or after.machine_busy_s is None or wall <= 0:
        return None
    others = (after.machine_busy_s - before.machine_busy_s) - (after.own_cpu_s - before.own_cpu_s)
    return max(0.0, others / wall)


def load_line(before: LoadSnapshot, after: LoadSnapshot, threads: int) -> str:
    """A docs line saying how busy the machine was during a timed run of ``threads`` threads,
    so that a reader can tell an idle machine's speeds from a shared one's. Measured as the CPU
    time other processes used between the two snapshots (a load average would still count a
    job paused seconds before the run)."""
    cores = os.cpu_count() or 1
    others = other_cores(before, after)
    if others is not None:
        verdict = ("other jobs shared the machine: the speeds are indicative" if others > 0.25
                   else "nothing else ran to speak of")
        plural = "s" if threads != 1 else ""
        return (f"- machine load: other processes kept {others:.2f} of {cores} cores busy on "
                f"average while this ran ({threads} thread{plural}): {verdict}")
    if before.load_average is None or after.load_average is None:
        return "- machine load: not available on this platform"
    busy = before.load_average > 0.75 or after.load_average > threads + 0.75
    verdict = ("other jobs shared the machine: the speeds are indicative" if busy else
               "nothing else ran to speak of")
    return (f"- machine load (1-minute load average, {cores} cores) before / at the end: "
            f"{before.load_average:.2f} / {after.load_average:.2f}: {verdict}")


def meta_lines(meta: dict[str, Any]) -> str:
    """The meta block as the Markdown lines every docs section starts with."""
    return (f"Measured on {meta['machine']}, torch threads {meta['threads']}, {meta['date']}; "
            f"regenerate with `{meta['command']}`.")


def write_json(path: Path, data: Any) -> None:
    """Results as indented JSON, written atomically."""
    atomic_write_text(Path(path), json.dumps(data, indent=2) + "\n")


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A GitHub Markdown table; floats as they come (format them before)."""
    lines = ["| " + " | ".join(map(str, header)) + " |",
             "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(map(str, row)) + " |" for row in rows]
    return "\n".join(lines)


def wants_bf16(choice: str) -> bool:
    """A benchmark's ``--bf16 auto|yes|no``: auto times bf16 only where the CPU has it
    natively (AVX512-BF16 or AMX); emulated bf16 is many times slower."""
    from pixelsmith.runtime.precision import cpu_has_native_bf16

    return choice == "yes" or (choice == "auto" and bool(cpu_has_native_bf16()))


def cpu_label() -> str:
    """The CPU's vendor and family with its widest vector extensions, e.g. 'AMD EPYC (AVX2)'."""
    words = cpu_model().replace("(R)", "").replace("(TM)", "").split()
    family = " ".join(w for w in words if w.lower() not in ("processor", "cpu"))[:40]
    features = [f for f in cpu_features() if f in ("AVX2", "AVX-512", "AMX")]
    wide = [f for f in features if f != "AVX2"] or features
    return f"{family} ({', '.join(wide)})" if wide else family


def replace_section(path: Path, name: str, body: str, title: str = "# Benchmarks") -> None:
    """Put ``body`` between ``<!-- name:start -->`` and ``<!-- name:end -->`` in ``path``.

    The section is appended when the page does not have it yet; the rest of the page is kept.
    """
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    block = f"{start}\n{body.rstrip()}\n{end}"
    text = path.read_text() if path.exists() else f"{title}\n"
    if start in text and end in text:
        before = text[: text.index(start)]
        after = text[text.index(end) + len(end):]
        text = before + block + after
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    atomic_write_text(path, text)
