"""What `pixelsmith train` does: resolve the recipe and run folder, train, report."""

from __future__ import annotations

import signal
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


def validate_command(recipe: str | None, overrides: list[str], device: str | None) -> dict:
    """Validate the recipe's ``init`` model with the recipe's own validation (the figures a run
    logs at each validation), training nothing and writing nothing: how a candidate's
    validation compares with the model it would replace."""
    from pixelsmith.train.trainer import Trainer

    if recipe is None:
        raise PixelsmithError("--validate-only needs a recipe file")
    config, run = resolve(recipe, overrides, None, None)
    if not config.init:
        raise PixelsmithError(f"{recipe}: --validate-only validates the recipe's init model, and "
                              "it has none (add --set init=NAME_OR_FOLDER)")
    trainer = Trainer(config, run, device=device, progress=False)
    metrics = trainer.family.validate(trainer.models[trainer.family.main])
    shown = ", ".join(f"{k} {v:.6g}" if isinstance(v, float) else f"{k} {v}"
                      for k, v in metrics.items())
    click.echo(f"{config.init} on {config.name}'s validation: {shown}")
    return metrics


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


def preflight(recipe: str | None, overrides: list[str], output: str | None,
              resume_dir: str | None, device: str | None = None, **_ignored) -> None:
    """Check in this process what every rank would refuse at its start (the recipe, the run
    folder to resume, the device, the ``init`` model, the ``data.train`` folders, the
    degradation), so that a user error is one line before any process starts, not one per
    rank."""
    from pixelsmith.runtime.device import resolve_device
    from pixelsmith.train.datasets import degradation_spec, train_roots
    from pixelsmith.zoo import resolve_model_dir

    resolve_device(device)
    config, _ = resolve(recipe, overrides, output, resume_dir)
    if config.init and not resume_dir:
        resolve_model_dir(config.init)
    train_roots(config)
    if config.degradation.task != "none":
        degradation_spec(config)


def torchrun_arguments(nproc: int, **options) -> list[str]:
    """torchrun's command line for this ``pixelsmith train`` command on ``nproc`` processes."""
    command = ["--standalone", f"--nproc_per_node={nproc}", "-m", "pixelsmith", "train"]
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
    return command


def launch_processes(nproc: int, **options) -> int:
    """Run this command under torchrun with ``nproc`` processes on this machine; the exit code.

    torchrun's own agent runs in this process, its traceback and failure report silenced: the
    ranks print their own one-line errors (exit code 2, passed on; the agent then stops the
    other ranks), and any other failure is summed up in one line.
    """
    import logging
    import os

    os.environ.setdefault("LOGLEVEL", "ERROR")  # the agent's loggers read it when imported
    from torch.distributed.elastic.multiprocessing.api import SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import parse_args, run

    preflight(**options)
    logging.getLogger("torch.distributed.elastic").setLevel(logging.CRITICAL)
    try:
        run(parse_args(torchrun_arguments(nproc, **options)))
    except SignalException:
        return 130  # the ranks saved their checkpoint and said how to resume
    except ChildFailedError as failed:
        codes = {rank: failure.exitcode for rank, failure in failed.failures.items()}
        stopped = {-signal.SIGTERM, -signal.SIGINT, -signal.SIGKILL}  # by the agent
        for told in (2, 130):  # a rank refused the input / was interrupted, and said so
            if told in codes.values() and set(codes.values()) <= stopped | {told}:
                return told
        ranks = ", ".join(f"rank {rank} exit code {code}" for rank, code in sorted(codes.items()))
        click.echo(f"pixelsmith: error: training failed ({ranks}); the ranks' messages are "
                   "above", err=True)
        return 1
    return 0
