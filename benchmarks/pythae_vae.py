"""Side by side: pixelsmith's MNIST VAE and the same network trained by the `pythae` package.

Writes docs/results/vae-pythae.json and the "vae-pythae" section of docs/BENCHMARKS.md. pythae
is not a pixelsmith dependency (it pulls the `dataclasses` 0.6 backport), so run this from a
separate venv that has pythae 0.1.2 and pixelsmith (editable) installed:

    OMP_NUM_THREADS=1 /work/pythae-venv/bin/python -m benchmarks.pythae_vae \\
        [--pixelsmith-run RUN_DIR]     # vae-mnist's run folder: wall time of a resumed run
    /work/pythae-venv/bin/python -m benchmarks.pythae_vae --epochs 1 --train-limit 2000 \\
        --limit 200 --k 50 --output /tmp/pythae-smoke            # smoke test, writes no docs

What is the same in both rows: pixelsmith's ConvEncoder(1, 28, 64, base=32) and
ConvDecoder(32, 1, 28, base=32) (wrapped as pythae BaseEncoder / BaseDecoder with the module
names of ConvVAE, so the trained weights load into ConvVAE unchanged), the 59,000 training
digits of ``split_indices(60000, seed=0, val_count=1000)``, dynamic binarisation (every access
draws pixel ~ Bernoulli(grey level)), batch 128, Adam at 1e-3, and the 1,000 held-out digits
(binarised once, seed 0) as the validation set. What differs is the training loop: pythae's
``VAE`` has no KL warm-up; its trainer steps the learning-rate schedule once per epoch
(CosineAnnealingLR to 1e-5 here, against pixelsmith's per-step cosine) and keeps the epoch with
the lowest held-out loss; its "bce" loss takes sigmoid probabilities (log clamped at -100),
pixelsmith's takes logits.

Evaluation, as benchmarks/vae.py (its helpers are imported): NLL = negative IWAE bound with
``--k`` samples on the 10,000 MNIST test digits binarised once with seed 0; sample quality =
feature FID / KID / precision / recall (``features-mnist``) of 10,000 samples (T = 1) against
the 10,000 test digits. pythae's own estimator ``VAE.get_nll`` is run on the first
``--crosscheck`` digits beside pixelsmith's as a check of both.

The trained pythae model is exported as a pixelsmith model folder under ``--output``; a rerun
with the same ``--epochs``/``--train-limit`` reuses it (``--retrain`` to train again), and
finished measurements are cached in ``--output``/cache.json by the weights' sha256.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from argparse import Namespace
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from benchmarks.common import replace_section
from benchmarks.vae import PUBLISHED_NLL, binarised, part_nll, split_data
from pixelsmith.data import MNIST, split_indices
from pixelsmith.io import atomic_write_text
from pixelsmith.nets.autoencoder import ConvDecoder, ConvEncoder, ConvVAE
from pixelsmith.sysinfo import machine_summary
from pixelsmith.zoo import load_model, resolve_model_dir, save_model

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
RESULTS = DOCS / "results"
SECTION = "vae-pythae"
SEED = 0
LATENT, BASE, BATCH, LR, MIN_LR = 32, 32, 128, 1e-3, 1e-5
NETWORK = {"name": "conv-vae", "args": {"channels": 1, "image_size": 28, "latent_dim": LATENT,
                                        "base": BASE, "likelihood": "bernoulli"}}
PUBLISHED = {
    "nll": PUBLISHED_NLL["VAE (pythae reproduction)"],
    "note": ("pythae's reproduction of the VAE of Rezende & Mohamed (2015), Table 1 "
             "(huggingface.co/clementchadebec/reproduced_vae): 89.78 nats with 200 importance "
             "samples on the statically binarised MNIST of Larochelle (a fixed binarisation, "
             "not ours), by a different network: MLP encoder and decoder with one 400-unit ReLU "
             "layer each, 40-d latent (benchmark_VAE examples/scripts/reproducibility/vae.py), "
             "learning-rate milestones up to epoch 1,000"),
}


# -- pythae side ------------------------------------------------------------------------------

def require_pythae() -> str:
    """pythae's version, or exit 2 with a one-line message when it cannot be imported."""
    from importlib.metadata import version

    try:
        import pythae  # noqa: F401
    except ImportError as exc:
        print(f"error: cannot import pythae ({exc}); run this script from a venv with pythae "
              "installed, e.g. /work/pythae-venv/bin/python -m benchmarks.pythae_vae",
              file=sys.stderr)
        raise SystemExit(2) from None
    return version("pythae")


def build_pythae_vae() -> torch.nn.Module:
    """pythae ``VAE`` around pixelsmith's ConvEncoder / ConvDecoder (the ConvVAE module names:
    ``encoder.body``, ``encoder.head``, ``decoder.project``, ``decoder.body``)."""
    from pythae.models import VAE, VAEConfig
    from pythae.models.base.base_utils import ModelOutput
    from pythae.models.nn import BaseDecoder, BaseEncoder

    class Encoder(ConvEncoder, BaseEncoder):
        """(mu, logvar) split from the encoder output as ConvVAE.encode splits it."""

        def __init__(self) -> None:
            super().__init__(1, 28, 2 * LATENT, base=BASE)

        def forward(self, x: torch.Tensor) -> ModelOutput:
            mu, logvar = ConvEncoder.forward(self, x).chunk(2, dim=1)
            return ModelOutput(embedding=mu, log_covariance=logvar)

    class Decoder(ConvDecoder, BaseDecoder):
        """Bernoulli means: pythae's "bce" loss takes probabilities, not logits."""

        def __init__(self) -> None:
            super().__init__(LATENT, 1, 28, base=BASE)

        def forward(self, z: torch.Tensor) -> ModelOutput:
            return ModelOutput(reconstruction=torch.sigmoid(ConvDecoder.forward(self, z)))

    config = VAEConfig(input_dim=(1, 28, 28), latent_dim=LATENT, reconstruction_loss="bce")
    return VAE(config, encoder=Encoder(), decoder=Decoder())


def digit_dataset(images: torch.Tensor, dynamic: bool) -> torch.utils.data.Dataset:
    """pythae's dataset contract: ``__getitem__`` returns ``DatasetOutput(data=...)``. With
    ``dynamic`` each access draws pixel ~ Bernoulli(grey level) (torch's global RNG, seeded by
    pythae's trainer); otherwise ``images`` are served as they are."""
    from pythae.data.datasets import DatasetOutput

    class Digits(torch.utils.data.Dataset):
        def __len__(self) -> int:
            return len(images)

        def __getitem__(self, index: int) -> DatasetOutput:
            x = images[index]
            return DatasetOutput(data=torch.bernoulli(x) if dynamic else x)

    return Digits()


def train_pythae(args: argparse.Namespace) -> dict:
    """Train with pythae's TrainingPipeline; returns the run record (``train.json``)."""
    from pythae.pipelines import TrainingPipeline
    from pythae.trainers import BaseTrainerConfig
    from pythae.trainers.training_callbacks import TrainHistoryCallback

    mnist = MNIST(train=True)
    train_idx, val_idx = split_indices(len(mnist), seed=SEED, val_count=1000)
    if args.train_limit:
        train_idx = train_idx[:args.train_limit]
    grey = mnist.images.float().div(255)[:, None]
    train_set = digit_dataset(grey[train_idx], dynamic=True)
    val_set = digit_dataset(binarised(grey[val_idx], seed=SEED), dynamic=False)

    torch.manual_seed(SEED)
    model = build_pythae_vae()
    config = BaseTrainerConfig(
        output_dir=str(args.output), per_device_train_batch_size=BATCH,
        per_device_eval_batch_size=BATCH, num_epochs=args.epochs, learning_rate=LR,
        optimizer_cls="Adam", scheduler_cls="CosineAnnealingLR",
        scheduler_params={"T_max": args.epochs, "eta_min": MIN_LR}, seed=SEED, no_cuda=True)
    history = TrainHistoryCallback()
    pipeline = TrainingPipeline(model=model, training_config=config)
    start = time.perf_counter()
    pipeline(train_data=train_set, eval_data=val_set, callbacks=[history])
    wall = time.perf_counter() - start
    eval_loss = history.history["eval_loss"]
    steps_per_epoch = math.ceil(len(train_idx) / BATCH)
    return {
        "final_model": str(Path(pipeline.trainer.training_dir) / "final_model"),
        "epochs": args.epochs, "train_limit": args.train_limit, "seed": SEED,
        "train_digits": len(train_idx), "val_digits": len(val_idx),
        "steps": steps_per_epoch * args.epochs, "wall_seconds": wall,
        "train_loss": history.history["train_loss"], "eval_loss": eval_loss,
        "kept_epoch": 1 + int(np.argmin(eval_loss)),  # pythae keeps the lowest eval loss
        "last_epoch_lr": MIN_LR + (LR - MIN_LR) * (1 + math.cos(
            math.pi * (args.epochs - 1) / args.epochs)) / 2,
        "trainer_config": json.loads(config.to_json_string()),
    }


def to_pixelsmith(final_model: Path, export: Path, record: dict) -> Path:
    """Load pythae's saved weights (``model.pt``, tensors only) into a ConvVAE, check that
    both compute the same decoder means, and save it as a pixelsmith model folder."""
    state = torch.load(final_model / "model.pt", map_location="cpu",
                       weights_only=True)["model_state_dict"]
    vae = ConvVAE(**NETWORK["args"])
    result = vae.load_state_dict(state, strict=True)
    assert not result.missing_keys and not result.unexpected_keys, result
    pythae_model = build_pythae_vae()
    pythae_model.load_state_dict(state, strict=True)
    vae.eval()
    pythae_model.eval()
    with torch.no_grad():
        z = torch.randn(16, LATENT, generator=torch.Generator().manual_seed(SEED))
        x = torch.rand(16, 1, 28, 28, generator=torch.Generator().manual_seed(SEED))
        assert torch.allclose(vae.decode_mean(z), pythae_model.decoder(z)["reconstruction"])
        encoded = pythae_model.encoder(x)
        mu, logvar = vae.encode(x)
        assert torch.equal(mu, encoded["embedding"])
        assert torch.equal(logvar, encoded["log_covariance"])
    config = {"name": export.name, "summary": "conv-vae (vae-mnist network) trained by pythae",
              "family": "vae", "task": "synthesis", "network": NETWORK, "channels": 1,
              "needs": [], "weights": "raw",
              "training": {"by": f"pythae {record['pythae']}",
                           "recipe": {"data": {"kind": "mnist"}}, "pythae_run": record},
              "exported": time.strftime("%Y-%m-%d %H:%M:%S")}
    return save_model(export, vae, config)


@torch.no_grad()
def pythae_nll(model_dir: Path, k: int, count: int) -> float:
    """pythae's ``VAE.get_nll`` (mean -log p(x), nats) on the first ``count`` binarised test
    digits. It draws ``batch_size`` samples whenever ``n_samples <= batch_size``, so
    ``batch_size = k`` makes it use exactly k."""
    state = load_model(model_dir).state_dict()
    model = build_pythae_vae()
    model.load_state_dict(state, strict=True)
    model.eval()
    images = binarised(MNIST(train=False).images.float().div(255)[:, None], seed=0)[:count]
    torch.manual_seed(SEED)
    total = 0.0
    for chunk in tqdm(images.split(50), desc=f"pythae get_nll k={k}", unit="batch"):
        total += -float(model.get_nll(chunk, n_samples=k, batch_size=k)) * len(chunk)
    return total / len(images)


# -- shared evaluation ------------------------------------------------------------------------

class Cache:
    """Finished measurements in a JSON file, keyed by what they depend on."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.data = json.loads(path.read_text()) if path.exists() else {}
        self.reused: list[str] = []

    def get(self, key: str, compute: Callable[[], dict]) -> dict:
        if key not in self.data:
            self.data[key] = compute()
            atomic_write_text(self.path, json.dumps(self.data, indent=2))
        else:
            print(f"reusing {key} from {self.path}", file=sys.stderr)
            self.reused.append(key)
        return self.data[key]


def nll(model_dir: Path, k: int, limit: int | None) -> dict:
    """benchmarks/vae.py's NLL protocol (its ``part_nll``) on a model folder."""
    return part_nll(Namespace(vae_mnist=str(model_dir), k=k, limit=limit))


def stored_nll(model_dir: Path, k: int) -> dict | None:
    """docs/results/vae-nll.json when it measured this very model (same weights, measured
    after export) with ``k`` samples on all 10,000 test digits; otherwise None."""
    path = RESULTS / "vae-nll.json"
    if not path.exists():
        return None
    stored = json.loads(path.read_text())
    config = json.loads((model_dir / "config.json").read_text())
    try:
        same = json.loads((resolve_model_dir(stored["model"]) / "config.json").read_text())
    except Exception:  # noqa: BLE001 - a model that no longer resolves is simply not reused
        return None
    measured = datetime.fromisoformat(stored["meta"]["date"])
    exported = datetime.strptime(config["exported"], "%Y-%m-%d %H:%M:%S").astimezone()
    if (same.get("sha256") == config.get("sha256") and stored.get("k") == k
            and stored.get("images") == 10000 and not stored["meta"].get("limit")
            and measured > exported):
        return {**stored, "source": f"docs/results/vae-nll.json ({stored['meta']['date']})"}
    print(f"not reusing {path}: model, k, digit count or date differ", file=sys.stderr)
    return None


def samples(model: torch.nn.Module, n: int) -> torch.Tensor:
    """``n`` samples at T = 1, seeded as benchmarks/vae.py's ``part_quality`` seeds them."""
    return torch.cat([model.sample(min(500, n - i), seed=i) for i in range(0, n, 500)])


def quality(models: dict[str, Path], limit: int | None) -> dict[str, dict]:
    """Feature FID/KID/precision/recall of each model's samples against the test digits, plus
    the floor (training digits against test digits), as ``part_quality`` measures them."""
    from pixelsmith.metrics.features import load_extractor, sample_quality

    data = split_data("mnist", None)
    real = data["test_x"][: limit or None]
    n = len(real)
    extractor = load_extractor("features-mnist")
    generator = torch.Generator().manual_seed(1)
    reference = data["train_x"][torch.randperm(len(data["train_x"]), generator=generator)[:n]]
    fakes = {"training digits (floor)": lambda: reference}
    fakes.update({name: (lambda path=path: samples(load_model(path), n))
                  for name, path in models.items()})
    out = {}
    for name, make in tqdm(fakes.items(), desc="feature FID", unit="set"):
        out[name] = {"n": n, **sample_quality(real, make().clamp(0, 1), extractor)}
        print(f"quality {name}: {out[name]}", file=sys.stderr)
    return out


def wait_for(name: str, minutes: float) -> Path:
    """The model folder of ``name``, polling every minute for up to ``minutes``."""
    deadline = time.monotonic() + 60 * minutes
    while True:
        try:
            path = resolve_model_dir(name)
            load_model(path)
            return path
        except Exception as exc:  # noqa: BLE001 - report and poll again
            if time.monotonic() > deadline:
                raise SystemExit(f"error: pixelsmith model {name!r} not available: {exc}") from None
            print(f"waiting for {name!r} ({exc})", file=sys.stderr)
            time.sleep(60)


# -- report -----------------------------------------------------------------------------------

def run_segments(run: Path) -> list[dict]:
    """(steps, seconds) of each segment of a pixelsmith run (a resume restarts the clock of
    its ``metrics.jsonl``), from the run folder's log."""
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()
            if line.strip()]
    segments, start, last = [], 0, None
    for row in (r for r in rows if "time" in r):
        if last is not None and row["time"] < last["time"]:
            segments.append({"steps": last["step"] - start, "seconds": last["time"]})
            start = last["step"]
        last = row
    if last is not None:
        segments.append({"steps": last["step"] - start, "seconds": last["time"]})
    return segments


def pixelsmith_training(config: dict, run: Path | None = None) -> dict:
    """Epochs, steps, warm-up and wall time of a pixelsmith model, from its config (and, for
    the wall time of a resumed run, from its run folder's log)."""
    training = config.get("training", {})
    recipe, summary = training.get("recipe", {}), training.get("summary", {})
    steps = training.get("step") or recipe.get("train", {}).get("steps")
    batch = recipe.get("train", {}).get("batch_size", BATCH)
    segments = ([{"steps": summary.get("steps_this_run", steps),
                  "seconds": summary.get("wall_seconds")}] if summary else [])
    if run is not None:
        segments = run_segments(run)
    return {"steps": steps, "epochs": steps * batch / 59000 if steps else None,
            "kl_warmup_steps": recipe.get("loss", {}).get("args", {}).get("kl_warmup_steps"),
            "wall_seconds": sum(s["seconds"] for s in segments) if segments else None,
            "wall_segments": segments, "wall_source": str(run) if run else "model config",
            "checkpoint": training.get("checkpoint"),
            "best_step": summary.get("best_metric", {}).get("step"),
            "machine": summary.get("machine")}


def _minutes(row: dict) -> str:
    """Training wall time; per segment when the run was resumed or only partly recorded."""
    segments = row["wall_segments"]
    if not segments:
        return "-"
    total = sum(s["steps"] for s in segments)
    minutes = sum(s["seconds"] for s in segments) / 60
    text = f"{minutes:.0f} min" if minutes >= 10 else f"{minutes:.1f} min"
    if len(segments) > 1:
        text += " (resumed: " + " + ".join(
            f"{s['steps']} steps in {s['seconds'] / 60:.0f} min" for s in segments) + ")"
    if total < row["steps"]:
        text += f" for the last {total} of {row['steps']} steps"
    return text


def section(result: dict) -> str:
    """The markdown of the "vae-pythae" section."""
    k = result["k"]
    lines = ["## MNIST VAE: pixelsmith against pythae, same network", "",
             f"Command: `{result['meta']['command']}` (from a venv with pythae "
             f"{result['pythae']['version']}; protocol in the script's docstring"
             + ("; training and measurements reused from an earlier run with the same "
                "settings, cached in its output folder" if result["meta"]["reused_training"]
                and result["meta"]["reused_measurements"] else "")
             + f"). NLL: negative IWAE bound, k={k}, on the {result['nll_digits']:,} MNIST test "
             "digits binarised once with seed 0 (benchmarks/vae.py's protocol). FID/KID/"
             f"precision/recall: {result['quality_n']:,} samples (T = 1) against the test "
             "digits in the feature space of `features-mnist` (comparable only among "
             "pixelsmith-measured models). Both rows' sample quality was measured in the same "
             "run; pixelsmith's "
             f"NLL: {result['rows'][0]['nll_source']}.", "",
             ("| model | trained by | epochs | steps | KL warm-up | train wall time "
              f"| NLL nats (k={k}) | -ELBO | FID | KID x1000 | precision | recall |"),
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in result["rows"]:
        q = r["quality"]
        warmup = f"{r['kl_warmup_steps']} steps" if r["kl_warmup_steps"] else "none"
        lines.append(
            f"| {r['model']} | {r['trained_by']} | {r['epochs']:.2f} | {r['steps']} | {warmup} "
            f"| {_minutes(r)} "
            f"| **{r['nll']:.2f}** +- {r['nll_sem']:.2f} | {r['neg_elbo']:.2f} | {q['fid']:.2f} "
            f"| {1000 * q['kid']:.2f} | {q['precision']:.3f} | {q['recall']:.3f} |")
    floor = result["floor"]
    py, ps = result["pythae_run"], result["rows"][0]
    cross = result["crosscheck"]
    lines += [
        "",
        f"- Floor (training digits against test digits, n={floor['n']:,}): FID "
        f"{floor['fid']:.2f}, KID x1000 {1000 * floor['kid']:.2f}, precision "
        f"{floor['precision']:.3f}, recall {floor['recall']:.3f}.",
        "- Same in both: pixelsmith's ConvEncoder/ConvDecoder (base 32, 32-d latent, Bernoulli "
        f"decoder), the {py['train_digits']:,} training digits of `split_indices(60000, "
        "seed=0, val_count=1000)`, dynamic binarisation, batch 128, Adam at 1e-3, the 1,000 "
        "held-out digits (binarised once) for validation, seed 0.",
        "- pythae's VAE has no KL warm-up (beta = 1 from the first step); pixelsmith ramps "
        f"beta from 0 over {ps['kl_warmup_steps']} steps.",
        "- Learning rate: pythae's BaseTrainerConfig takes any torch scheduler "
        f"(`scheduler_cls=\"CosineAnnealingLR\"`, T_max={py['epochs']}, eta_min=1e-5), but its "
        "trainer steps it once per epoch, so the rate is constant within an epoch and the "
        f"last epoch runs at {py['last_epoch_lr']:.1e}; pixelsmith's cosine is per step, down "
        "to 1e-5.",
        "- Loss: pythae's \"bce\" takes sigmoid probabilities (its log is clamped at -100); "
        "pixelsmith's takes logits. Kept weights: pythae keeps the epoch with the lowest "
        f"held-out loss (epoch {py['kept_epoch']} of {py['epochs']}); pixelsmith exported its "
        f"`{ps['checkpoint']}` checkpoint"
        + (f" (best validation loss, step {ps['best_step']})." if ps["best_step"] else "."),
        "- Wall times: one CPU thread each, on a 2-core machine shared with other jobs; "
        "indicative only.",
        f"- Estimator cross-check on the pythae-trained weights, first {cross['images']:,} test "
        f"digits, k={cross['k']}: pixelsmith's `importance_weighted_nll` "
        f"{cross['pixelsmith']:.2f} nats, pythae's `VAE.get_nll` {cross['pythae']:.2f} nats "
        f"(difference {cross['pythae'] - cross['pixelsmith']:+.2f}).",
        f"- Published: {PUBLISHED['note']}; a reference point, not a like-for-like "
        "comparison.",
        "",
        f"Measured on {result['meta']['machine']}, {result['meta']['date'][:10]}. Figures: "
        "docs/results/vae-pythae.json.",
    ]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=17,
                        help="pythae epochs (pixelsmith's 8000 steps of 128 = 17.36 epochs)")
    parser.add_argument("--k", type=int, default=500, help="importance samples for the NLL")
    parser.add_argument("--limit", type=int, help="first N test digits (a quick look; no docs)")
    parser.add_argument("--crosscheck", type=int, default=1000,
                        help="test digits for the pythae get_nll cross-check")
    parser.add_argument("--train-limit", type=int, help="first N training digits (smoke only)")
    parser.add_argument("--pixelsmith-model", default="vae-mnist",
                        help="shipped name or exported folder of pixelsmith's model")
    parser.add_argument("--pixelsmith-run", type=Path,
                        help="its training run folder, for the wall time of a resumed run")
    parser.add_argument("--wait", type=float, default=0.0,
                        help="minutes to wait for --pixelsmith-model to appear")
    parser.add_argument("--output", type=Path, default=ROOT / "runs5" / "pythae",
                        help="pythae's run folder, the exported model and the cache")
    parser.add_argument("--retrain", action="store_true", help="train even if a run matches")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    args = parser.parse_args()
    pythae_version = require_pythae()
    torch.set_num_threads(args.threads)
    torch.manual_seed(SEED)
    args.output.mkdir(parents=True, exist_ok=True)
    command = "python -m benchmarks.pythae_vae " + " ".join(sys.argv[1:])

    # 1. train (or reuse a matching run) and export as a pixelsmith model
    record_path, export = args.output / "train.json", args.output / "pixelsmith-model"
    record = json.loads(record_path.read_text()) if record_path.exists() else None
    reused_training = not args.retrain and record is not None
    if (args.retrain or record is None or record["epochs"] != args.epochs
            or record["train_limit"] != args.train_limit or not (export / "config.json").exists()):
        record = {**train_pythae(args), "pythae": pythae_version}
        to_pixelsmith(Path(record["final_model"]), export, record)
        atomic_write_text(record_path, json.dumps(record, indent=2))
        reused_training = False
    else:
        print(f"reusing the pythae run {record['final_model']}", file=sys.stderr)
    cache = Cache(args.output / "cache.json")
    pythae_sha = json.loads((export / "config.json").read_text())["sha256"]

    # 2. NLL of the pythae-trained weights, and the estimator cross-check
    py_nll = cache.get(f"nll {pythae_sha} k={args.k} limit={args.limit}",
                       lambda: nll(export, args.k, args.limit))
    count = min(args.crosscheck, args.limit or args.crosscheck)
    cross = {"images": count, "k": args.k,
             "pixelsmith": cache.get(f"nll {pythae_sha} k={args.k} limit={count}",
                                     lambda: nll(export, args.k, count))["nll"],
             "pythae": cache.get(f"get_nll {pythae_sha} k={args.k} n={count}",
                                 lambda: {"nll": pythae_nll(export, args.k, count)})["nll"]}
    print(f"cross-check: pixelsmith {cross['pixelsmith']:.3f}, pythae {cross['pythae']:.3f}",
          file=sys.stderr)

    # 3. pixelsmith's model: stored or measured NLL
    ps_dir = wait_for(args.pixelsmith_model, args.wait)
    ps_config = json.loads((ps_dir / "config.json").read_text())
    ps_nll = None if args.limit else stored_nll(ps_dir, args.k)
    if ps_nll is None:
        ps_nll = cache.get(f"nll {ps_config['sha256']} k={args.k} limit={args.limit}",
                           lambda: nll(ps_dir, args.k, args.limit))
        ps_nll = {**ps_nll, "source": ps_nll.get("source", "measured by this script")}

    # 4. sample quality of both, in one call (same reference set and seeds)
    names = {"pixelsmith": ps_dir, "pythae": export}
    scores = cache.get(f"quality {ps_config['sha256']} {pythae_sha} limit={args.limit}",
                       lambda: quality(names, args.limit))

    ps_train = pixelsmith_training(ps_config, args.pixelsmith_run)
    rows = [
        {"model": args.pixelsmith_model, "trained_by": "pixelsmith", **ps_train,
         "nll": ps_nll["nll"], "nll_sem": ps_nll["nll_sem"], "neg_elbo": ps_nll["neg_elbo"],
         "nll_images": ps_nll["images"], "nll_source": ps_nll["source"],
         "quality": scores["pixelsmith"]},
        {"model": "conv-vae (same network)", "trained_by": f"pythae {pythae_version}",
         "epochs": float(record["epochs"]), "steps": record["steps"], "kl_warmup_steps": 0,
         "wall_seconds": record["wall_seconds"], "wall_source": "measured by this script",
         "wall_segments": [{"steps": record["steps"], "seconds": record["wall_seconds"]}],
         "checkpoint": f"epoch {record['kept_epoch']}", "best_step": None,
         "machine": machine_summary(),
         "nll": py_nll["nll"], "nll_sem": py_nll["nll_sem"], "neg_elbo": py_nll["neg_elbo"],
         "nll_images": py_nll["images"], "nll_source": "measured by this script",
         "quality": scores["pythae"]},
    ]
    result = {"k": args.k, "nll_digits": py_nll["images"],
              "quality_n": scores["pythae"]["n"], "rows": rows,
              "floor": scores["training digits (floor)"], "crosscheck": cross,
              "pythae": {"version": pythae_version, "export": str(export)},
              "pythae_run": record, "pixelsmith_model": str(ps_dir), "published": PUBLISHED,
              "meta": {"machine": machine_summary(), "limit": args.limit,
                       "train_limit": args.train_limit, "reused_training": reused_training,
                       "reused_measurements": cache.reused,
                       "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                       "command": command}}
    for r in rows:
        print(f"{r['trained_by']}: NLL {r['nll']:.2f} (k={args.k}), -ELBO {r['neg_elbo']:.2f}, "
              f"FID {r['quality']['fid']:.2f}", file=sys.stderr)
    atomic_write_text(args.output / "vae-pythae.json", json.dumps(result, indent=2))
    if not args.limit and not args.train_limit:
        atomic_write_text(RESULTS / "vae-pythae.json", json.dumps(result, indent=2))
        replace_section(DOCS / "BENCHMARKS.md", SECTION, section(result))
    else:
        print(section(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
