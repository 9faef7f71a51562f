"""What every benchmark shares: the run's meta block (machine, threads, command, date), result
JSON, Markdown tables, and the marked docs section each script owns and rewrites."""

from __future__ import annotations

import json
import os
import shlex
import sys
import time
from collections.abc import Sequence
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


def load_now() -> float | None:
    """The 1-minute load average (None where the platform has none)."""
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):
        return None


def load_line(before: float | None, after: float | None, threads: int) -> str:
    """A docs line saying how busy the machine was around a timed run of ``threads`` threads
    (1-minute load averages taken before it and at its end), so that a reader can tell an idle
    machine's speeds from a shared one's."""
    if before is None or after is None:
        return "- machine load: not available on this platform"
    cores = os.cpu_count() or 1
    busy = before > 0.75 or after > threads + 0.75  # beyond the run's own threads
    verdict = ("other jobs shared the machine: the speeds are indicative" if busy else
               "nothing else ran to speak of")
    return (f"- machine load (1-minute load average, {cores} cores) before / at the end: "
            f"{before:.2f} / {after:.2f}: {verdict}")


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
