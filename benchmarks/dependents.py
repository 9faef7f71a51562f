"""Which benchmark commands measure a shipped model: what to rerun after shipping new weights.

    python -m benchmarks.dependents denoise-gray           # print the commands, in order
    python -m benchmarks.dependents denoise-gray sr-x2     # several models, each command once
    python -m benchmarks.dependents denoise-gray --run     # run them one after another

A table that shows a model must be measured again when the model's weights change, or say
that it predates them; this list is that dependency, kept in one place. The cheap tables come
first. Commands that time the machine (deploy, speed regression) should run on a quiet machine.
Pruned packages (docs/DEPLOY.md, "Pruning") are made by `pixelsmith prune ... --finetune`,
which trains for tens of minutes, so they are listed as a reminder, not run.
"""

from __future__ import annotations

import argparse
import shlex
import subprocess
import sys

MODEL_CARDS = "python -m benchmarks.model_cards"
DEPLOY_AMX = ("python -m benchmarks.deploy --limit 4 --repeats 2 --quantize "
              "--section deploy-backends-amx --work-dir runs/deploy-work")
ENSEMBLE = "python -m benchmarks.ensemble --limit 20"
SPEED = "python -m benchmarks.speed_regression"
PHOTO = ("# photo chain (uses denoise-color and sr-x4): the commands in docs/BENCHMARKS.md, "
         "sections photo, photo-shake and photo-real (they compare extra packages "
         "given by --extra; rows of packages no longer here would drop out)")

#: model -> the commands whose tables include it (docs/BENCHMARKS.md, DEPLOY.md, EXPLAIN.md,
#: MODELS.md), cheapest first
DEPENDENTS: dict[str, tuple[str, ...]] = {
    "denoise-gray": (
        MODEL_CARDS,
        "python -m benchmarks.denoise_dejpeg --only gray --reuse-baseline",
        "python -m benchmarks.explain --update --models denoise-gray --threads 1",
        ENSEMBLE,
        "python -m benchmarks.vae_restoration --only digits",
        "python -m benchmarks.restoration_tasks --only deblur-Set12",
        "python -m benchmarks.restoration_tasks --only deblur-BSD68",
        SPEED,
        DEPLOY_AMX,
        "# pruning: pixelsmith prune denoise-gray --channels 0.3 --round-to 8 --finetune 6000 "
        "--lr 0.0005 -o models/denoise-gray-pruned-ft6000, then python -m benchmarks.deploy "
        "--only-prune --models denoise-gray denoise-color sr-x4 --threads 1 --repeats 7 "
        "--pruned denoise-gray=models/denoise-gray-pruned-ft6000",
    ),
    "denoise-color": (
        MODEL_CARDS,
        "python -m benchmarks.denoise_dejpeg --only color --reuse-baseline",
        "python -m benchmarks.explain --update --models denoise-color --threads 1",
        ENSEMBLE,
        "python -m benchmarks.vae_restoration --only faces",
        "python -m benchmarks.deploy --only-qat 300 --models denoise-color --threads 1 "
        "--work-dir runs/deploy-qat",
        SPEED,
        DEPLOY_AMX,
        "python -m benchmarks.gan --only deblur",
        PHOTO,
        "# pruning: as for denoise-gray, python -m benchmarks.deploy --only-prune ...",
    ),
    "dejpeg-gray": (
        MODEL_CARDS,
        "python -m benchmarks.denoise_dejpeg --only jpeg --reuse-baseline",
        "python -m benchmarks.explain --update --models dejpeg-gray --threads 1",
        ENSEMBLE,
        SPEED,
        DEPLOY_AMX,
    ),
    "dejpeg-color": (
        MODEL_CARDS,
        "python -m benchmarks.explain --update --models dejpeg-color --threads 1",
        SPEED,
        DEPLOY_AMX,
    ),
    "sr-x2": (
        MODEL_CARDS,
        "python -m benchmarks.restoration_tasks --only sr-Set",
        "python -m benchmarks.explain --update --models sr-x2 --threads 1",
        SPEED,
        DEPLOY_AMX,
    ),
    "sr-x4": (
        MODEL_CARDS,
        "python -m benchmarks.restoration_tasks --only sr-Set",
        "python -m benchmarks.explain --update --models sr-x4 --threads 1",
        ENSEMBLE,
        SPEED,
        DEPLOY_AMX,
        PHOTO,
    ),
}


def commands_for(models: list[str]) -> list[str]:
    """The commands for ``models``, each once, in the order of first mention."""
    unknown = [m for m in models if m not in DEPENDENTS]
    if unknown:
        raise SystemExit(f"no dependents listed for {', '.join(unknown)} "
                         f"(listed: {', '.join(DEPENDENTS)})")
    ordered: list[str] = []
    for model in models:
        ordered += [c for c in DEPENDENTS[model] if c not in ordered]
    return ordered


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+")
    parser.add_argument("--run", action="store_true",
                        help="run the commands (not the '#' reminders), stopping at a failure")
    args = parser.parse_args()
    for command in commands_for(args.models):
        print(command, flush=True)
        if args.run and not command.startswith("#"):
            done = subprocess.run(shlex.split(command.replace("python", sys.executable, 1)))
            if done.returncode:
                print(f"failed ({done.returncode}): {command}", file=sys.stderr)
                return done.returncode
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
