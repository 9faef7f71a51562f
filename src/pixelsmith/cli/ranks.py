"""Folders shared out among the processes of ``torchrun`` (``restore``, ``compress``,
``decompress``).

Under torchrun (``WORLD_SIZE`` > 1 and ``RANK`` in the environment) each process, or rank,
takes its own share of the files: the jobs sorted by source path, every ``WORLD_SIZE``-th
from the ``RANK``-th on. Every file is thus done by exactly one rank, with the same code as in
one process, so the outputs are byte for byte those of one process. Each rank prints its own
per-file lines and a one-line summary of its share. The ranks then gather their counts
over torch.distributed (gloo, on the CPU, through torchrun's ``MASTER_ADDR`` and
``MASTER_PORT``); rank 0 prints the summary of the whole folder, and every rank exits with the
exit code of the whole: 0 when every file was done, 1 when some failed, 2 when all failed.
Exiting together matters: torchrun stops the other ranks as soon as one exits with an error.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

from pixelsmith.cli.batch import Job, Outcome
from pixelsmith.cli.report import Reporter
from pixelsmith.errors import PixelsmithError


@dataclass(frozen=True)
class RankShare:
    """This process's place among torchrun's processes."""

    rank: int
    world: int

    @classmethod
    def from_env(cls) -> RankShare | None:
        """The share torchrun's environment gives, or None outside torchrun (or one rank)."""
        try:
            world = int(os.environ.get("WORLD_SIZE", "1"))
            rank = int(os.environ.get("RANK", "0"))
        except ValueError:
            raise PixelsmithError("WORLD_SIZE and RANK must be integers (as torchrun sets "
                                  "them)") from None
        if world <= 1:
            return None
        if not 0 <= rank < world:
            raise PixelsmithError(f"RANK {rank} is outside 0..{world - 1} (WORLD_SIZE {world})")
        return cls(rank, world)

    def take(self, jobs: list[Job]) -> list[Job]:
        """This rank's jobs: sorted by source, every ``world``-th from the ``rank``-th."""
        return sorted(jobs, key=lambda job: (str(job.source), str(job.target)))[
            self.rank::self.world]

    def gather(self, outcome: Outcome, output: str, reporter: Reporter,
               unit: str = "images") -> Outcome:
        """Report this rank's share, wait for the others and combine their outcomes.

        Rank 0 gets the whole folder's outcome to :func:`~pixelsmith.cli.batch.finish`; the
        other ranks exit here with the whole folder's exit code.
        """
        failed = f", {len(outcome.failed)} failed" if outcome.failed else ""
        skipped = f", {outcome.skipped} skipped" if outcome.skipped else ""
        reporter.info(f"rank {self.rank} of {self.world}: {outcome.written} of "
                      f"{outcome.total} {unit} written to {output}{skipped}{failed}")
        parts = self._all_gather((outcome.total, outcome.written, outcome.skipped,
                                  [str(path) for path in outcome.failed]))
        whole = Outcome(total=sum(p[0] for p in parts), written=sum(p[1] for p in parts),
                        skipped=sum(p[2] for p in parts))
        whole.failed = [Path(path) for path in sorted(x for p in parts for x in p[3])]
        if self.rank != 0:
            sys.exit(whole.exit_code)
        return whole

    def _all_gather(self, item) -> list:
        import torch.distributed as dist

        if not ("MASTER_ADDR" in os.environ and "MASTER_PORT" in os.environ):
            raise PixelsmithError("WORLD_SIZE > 1 needs MASTER_ADDR and MASTER_PORT: run under "
                                  "torchrun")
        started = not dist.is_initialized()
        if started:
            dist.init_process_group("gloo", rank=self.rank, world_size=self.world)
        try:
            parts: list = [None] * self.world
            dist.all_gather_object(parts, item)
        finally:
            if started:
                dist.destroy_process_group()
        return parts
