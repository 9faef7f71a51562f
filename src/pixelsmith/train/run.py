"""What `pixelsmith train` does: resolve the recipe and run folder, train, report."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import click

from pixelsmith.errors import PixelsmithError


def resolve(recipe: str | None, overrides: list[str], output: str | None,
            resume_dir: str | None):
    """The validated recipe and the run folder; resuming without a recipe reuses the saved one."""
    from pixelsmith.train.config import load_recipe

    if resume_dir:
        run = Path(resume_dir)
        if not (run / "last.pt").is_file():
            raise PixelsmithError(f"{run}: no checkpoint (last.pt) to resume from")
        source = recipe or run / "recipe.yaml"
        return load_recipe(source, overrides), run
    if recipe is None:
        raise PixelsmithError("give a recipe file, or --resume RUN_FOLDER")
    loaded = load_recipe(recipe, overrides)
    return loaded, Path(output or loaded.output)


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def interrupt_on_signals() -> None:
    """Ctrl-C and SIGTERM (a scheduler's stop) both end training with a checkpoint.

    SIGINT is set explicitly because a process started in the background by a shell inherits
    SIGINT as ignored, and Python then never raises KeyboardInterrupt.
    """
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)


def train_command(recipe: str | None, overrides: list[str], output: str | None,
                  resume_dir: str | None, max_steps: int | None, device: str | None,
                  quiet: bool) -> dict:
    """Train in this process (one rank of a torchrun job, or alone)."""
    from pixelsmith.train.trainer import Trainer

    interrupt_on_signals()

    config, run = resolve(recipe, overrides, output, resume_dir)
    trainer = Trainer(config, run, resume=resume_dir is not None, max_steps=max_steps,
                      device=device, progress=not quiet)
    if trainer.dist.is_main:
        click.echo(f"pixelsmith: {start_line(trainer)}", err=True)
    try:
        summary = trainer.fit()
    except KeyboardInterrupt:
        if trainer.dist.is_main:
            click.echo(f"pixelsmith: interrupted at step {trainer.step}; checkpoint saved in "
                       f"{run / 'last.pt'}; continue with: pixelsmith train --resume {run}",
                       err=True)
        sys.exit(130)
    if trainer.dist.is_main:
        best = ", ".join(f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}"
                         for k, v in summary["best_metric"].items())
        click.echo(f"{summary['stopped']}: {summary['steps']} steps, best {best}, "
                   f"{summary['wall_seconds']:.1f} s, {summary['images_per_second']:.1f} "
                   f"images/s; run folder {run}", err=True)
    return summary


def start_line(trainer) -> str:
    """What a run is about to do, in one line: name, steps, batch, precision, device, threads."""
    import torch

    recipe, train = trainer.recipe, trainer.recipe.train
    where = (f"from step {trainer.step:,} to {trainer.total_steps:,}" if trainer.step
             else f"{trainer.total_steps:,} steps")
    layout = ", channels_last" if train.channels_last else ""
    device = trainer.device.type + (f" x{trainer.dist.world_size}" if trainer.dist.enabled
                                    else "")
    threads = f", {torch.get_num_threads()} threads" if trainer.device.type == "cpu" else ""
    return (f"training {recipe.name}: {where}, batch {train.batch_size}, {train.precision}"
            f"{layout}, on {device}{threads}; run folder {trainer.output}")


def launch_processes(nproc: int, **options) -> int:
    """Re-run this command under torchrun with ``nproc`` processes on this machine."""
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone",
               f"--nproc_per_node={nproc}", "-m", "pixelsmith", "train"]
    if options["recipe"]:
        command.append(str(options["recipe"]))
    for override in options["overrides"]:
        command += ["--set", override]
    for flag in ("output", "max_steps", "device"):
        if options[flag] is not None:
            command += [f"--{flag.replace('_', '-')}", str(options[flag])]
    if options["resume_dir"]:
        command += ["--resume", str(options["resume_dir"])]
    if options["quiet"]:
        command.append("--quiet")
    return subprocess.call(command)
