"""Evaluate the shipped autoencoders and VAEs; writes the "vae" section of docs/BENCHMARKS.md
and docs/results/vae-<part>.json.

    python -m benchmarks.vae                          # every part
    python -m benchmarks.vae --only nll --k 500       # MNIST NLL only
    python -m benchmarks.vae --only probe,compression --limit 2000   # quick look

Parts and protocols (held-out data only; seed 0 everywhere):

- nll: MNIST negative log-likelihood in nats, -log p(x) estimated by the importance-weighted
  bound (Burda et al. 2016) with ``--k`` samples per digit, on the 10,000 test digits
  binarised once by a fixed seed (pixel ~ Bernoulli(grey level), the stochastic binarisation
  of the published figures; the model was trained on dynamically binarised digits). The
  negative ELBO (k = 1) is given beside it.
- probe: a linear classifier (scikit-learn multinomial logistic regression on standardised
  inputs, its L2 strength C picked from PROBE_C on a seeded tenth of the training set) on the
  VAE's latent means, against the same classifier on raw pixels: MNIST (fit on
  the 60,000 training digits, scored on the 10,000 test digits) and CIFAR-10 (fit on the
  9,000-image training split of the CIFAR-10 *test* data, scored on the 1,000 held out: only
  the test split is available here).
- compression: the latent means quantised with step ``delta`` and entropy coded under the
  prior N(0, 1) with constriction (real bytes, one stream per image), against the PSNR of the
  decoded image (decoder mean). A first look before the learned codec: no side information,
  no learned prior.
- ae: reconstruction MSE and PSNR of CIFAR-10 autoencoders on the 1,000 held-out images, one
  row per latent size (``--ae-models``).
- quality: feature-space FID, KID and precision/recall (pixelsmith's own classifiers, see
  docs/FEATURE_METRICS.md; comparable only among pixelsmith models) of each VAE's samples
  against held-out images, with two reference rows: the held-out images against training
  images (the floor a perfect model reaches at this sample size) and the VAE's
  reconstructions.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from benchmarks.common import replace_section
from pixelsmith.data import MNIST, CIFAR10Folder, FaceFolder, split_indices
from pixelsmith.io import atomic_write_text
from pixelsmith.metrics.pixel import psnr
from pixelsmith.sysinfo import machine_summary
from pixelsmith.zoo import load_model

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
RESULTS = DOCS / "results"
SECTION = "vae"
PARTS = ("nll", "probe", "compression", "ae", "quality")
PUBLISHED_NLL = {"VAE (pythae reproduction)": 89.78, "IWAE, k=50 (Burda et al. 2016)": 86.82}
NLL_BATCH = 64  # digits per IWAE call; it decodes their k samples in chunks of 4096
DELTAS = (0.05, 0.1, 0.2, 0.4, 0.8, 1.6)
EXTRACTOR_OF = {"mnist": "features-mnist", "cifar10": "features-cifar10",
                "faces": "features-faces"}


# -- data -------------------------------------------------------------------------------------

def data_kind(model: torch.nn.Module) -> str:
    """The data set a model was trained on (``data.kind`` of the recipe in its config)."""
    kind = model.pixelsmith_config.get("training", {}).get("recipe", {}).get("data", {}).get("kind")
    if kind not in EXTRACTOR_OF:
        raise SystemExit(f"{model.pixelsmith_config.get('name')}: trained on data kind {kind!r}; "
                         f"this benchmark knows {', '.join(EXTRACTOR_OF)}")
    return kind


def _stack(dataset, indices) -> tuple[torch.Tensor, torch.Tensor]:
    images, labels = zip(*(dataset[i] for i in indices), strict=True)
    return torch.stack(images), torch.tensor(labels)


def split_data(kind: str, limit: int | None = None, with_train: bool = True
               ) -> dict[str, torch.Tensor]:
    """Held-out (and, with ``with_train``, training) images and labels of a data set, split as
    the recipes split it (seeded by train.seed = 0; MNIST's test digits are its held-out set)."""
    empty = torch.empty(0)
    if kind == "mnist":
        test = MNIST(train=False)
        test_x, test_y = test.images.float().div(255)[:, None], test.labels
        train_x, train_y = empty, empty
        if with_train:
            train = MNIST(train=True)
            train_x, train_y = train.images.float().div(255)[:, None], train.labels
    else:
        source = (CIFAR10Folder() if kind == "cifar10"
                  else FaceFolder(size=64, label="gender_age"))
        n = len(source)
        train_idx, val_idx = split_indices(n, seed=0, val_count=min(1000, n // 10))
        train_x, train_y = _stack(source, train_idx) if with_train else (empty, empty)
        test_x, test_y = _stack(source, val_idx)
    if limit:
        train_x, train_y = train_x[:limit], train_y[:limit]
        test_x, test_y = test_x[:limit], test_y[:limit]
    return {"train_x": train_x, "train_y": train_y, "test_x": test_x, "test_y": test_y}


def binarised(images: torch.Tensor, seed: int = 0) -> torch.Tensor:
    """Each pixel ~ Bernoulli(grey level), drawn once by ``seed``."""
    generator = torch.Generator().manual_seed(seed)
    return torch.bernoulli(images, generator=generator)


@torch.no_grad()
def latent_means(model: torch.nn.Module, images: torch.Tensor, batch: int = 500) -> torch.Tensor:
    """Posterior means (VAE) or codes (AE), batched."""
    out = []
    for chunk in images.split(batch):
        code = model.encode(chunk)
        out.append(code[0] if isinstance(code, tuple) else code)
    return torch.cat(out)


@torch.no_grad()
def reconstructions(model: torch.nn.Module, images: torch.Tensor, batch: int = 500
                    ) -> torch.Tensor:
    return torch.cat([model.reconstruct(chunk) for chunk in images.split(batch)])


# -- parts ------------------------------------------------------------------------------------

def part_nll(args) -> dict:
    from pixelsmith.nets.autoencoder import elbo_terms, importance_weighted_nll

    model = load_model(args.vae_mnist)
    data = MNIST(train=False)
    images = binarised(data.images.float().div(255)[:, None], seed=0)
    if args.limit:
        images = images[:args.limit]
    generator = torch.Generator().manual_seed(0)
    nll, neg_elbo = [], []
    start = time.perf_counter()
    for chunk in tqdm(images.split(NLL_BATCH), desc=f"NLL k={args.k}", unit="batch"):
        nll.append(importance_weighted_nll(model, chunk, args.k, generator))
        with torch.no_grad():
            terms = elbo_terms(model, chunk, 1.0, generator)
        neg_elbo.append((terms["recon"] + terms["kl"]) * len(chunk))
    nll_t = torch.cat(nll)
    return {"model": args.vae_mnist, "k": args.k, "images": len(images),
            "nll": float(nll_t.mean()), "nll_sem": float(nll_t.std() / len(nll_t) ** 0.5),
            "neg_elbo": float(torch.stack(neg_elbo).sum() / len(images)),
            "seconds": time.perf_counter() - start, "published": PUBLISHED_NLL}


PROBE_C = (0.001, 0.01, 0.1, 1.0)  # inverse L2 strengths tried for each linear probe


def linear_probe(train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray,
                 test_y: np.ndarray) -> tuple[float, float]:
    """(held-out accuracy, chosen C) of multinomial logistic regression on standardised
    features; C is picked on a seeded 10% of the training set, then the probe is refit on all
    of it, so raw pixels and latents each get their best regularisation."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    def fit(x: np.ndarray, y: np.ndarray, c: float):
        clf = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=2000))
        return clf.fit(x, y)

    order = np.random.default_rng(0).permutation(len(train_x))
    cut = len(order) // 10
    val, fit_idx = order[:cut], order[cut:]
    scores = {c: fit(train_x[fit_idx], train_y[fit_idx], c).score(train_x[val], train_y[val])
              for c in PROBE_C}
    best = max(scores, key=scores.get)
    return float(fit(train_x, train_y, best).score(test_x, test_y)), best


def part_probe(args) -> dict:
    rows = []
    for name in (args.vae_mnist, args.vae_cifar10):
        model = load_model(name)
        kind = data_kind(model)
        data = split_data(kind, args.limit)
        start = time.perf_counter()
        z_train = latent_means(model, data["train_x"]).numpy()
        z_test = latent_means(model, data["test_x"]).numpy()
        latent_acc, latent_c = linear_probe(z_train, data["train_y"].numpy(), z_test,
                                            data["test_y"].numpy())
        pixel_acc, pixel_c = linear_probe(data["train_x"].flatten(1).numpy(),
                                          data["train_y"].numpy(),
                                          data["test_x"].flatten(1).numpy(),
                                          data["test_y"].numpy())
        rows.append({"model": name, "data": kind, "latent_dim": z_train.shape[1],
                     "pixels_dim": int(data["train_x"][0].numel()),
                     "train": len(z_train), "test": len(z_test),
                     "latent_accuracy": latent_acc, "pixel_accuracy": pixel_acc,
                     "latent_C": latent_c, "pixel_C": pixel_c,
                     "seconds": time.perf_counter() - start})
        print(f"probe {name}: latent {latent_acc:.4f}, pixels {pixel_acc:.4f}", file=sys.stderr)
    return {"rows": rows}


def code_latents(z: torch.Tensor, delta: float) -> tuple[torch.Tensor, list[int]]:
    """Quantise ``z`` (N, D) to multiples of ``delta`` and range-code each row under the prior
    N(0, 1) with constriction; returns the dequantised latents and each row's size in bits."""
    import constriction

    symbols = torch.round(z / delta).to(torch.int64)
    bound = int(np.ceil(8.0 / delta))  # +-8 prior standard deviations
    symbols = symbols.clamp(-bound, bound)
    model = constriction.stream.model.QuantizedGaussian(-bound, bound, 0.0, 1.0 / delta)
    sizes = []
    for row in symbols.numpy().astype(np.int32):
        coder = constriction.stream.queue.RangeEncoder()
        coder.encode(row, model)
        sizes.append(32 * len(coder.get_compressed()))
    return symbols.float() * delta, sizes


@torch.no_grad()
def part_compression(args) -> dict:
    rows = []
    for name in (args.vae_mnist, args.vae_cifar10, args.vae_faces):
        model = load_model(name)
        kind = data_kind(model)
        images = split_data(kind, None, with_train=False)["test_x"][: args.limit or 1000]
        z = latent_means(model, images)
        pixels = images[0].numel() / images.shape[1]
        for delta in DELTAS:
            z_hat, bits = code_latents(z, delta)
            decoded = torch.cat([model.decode_mean(c) for c in z_hat.split(500)])
            rows.append({"model": name, "data": kind, "delta": delta, "images": len(images),
                         "bits_per_image": float(np.mean(bits)),
                         "bpp": float(np.mean(bits) / pixels),
                         "psnr": float(psnr(decoded.clamp(0, 1), images).mean())})
        full = reconstructions(model, images)
        rows.append({"model": name, "data": kind, "delta": 0.0, "images": len(images),
                     "bits_per_image": None, "bpp": None,
                     "psnr": float(psnr(full, images).mean())})
    return {"rows": rows}


@torch.no_grad()
def part_ae(args) -> dict:
    images = split_data("cifar10", None, with_train=False)["test_x"][: args.limit or None]
    rows = []
    for name in args.ae_models:
        model = load_model(name)
        out = reconstructions(model, images).clamp(0, 1)
        mse = ((out - images) ** 2).flatten(1).mean(1)
        config = model.pixelsmith_config
        summary = config.get("training", {}).get("summary", {})
        best = summary.get("best_metric", {})
        rows.append({"model": config.get("name", name), "source": name,
                     "latent_dim": int(model.latent_dim), "images": len(images),
                     "mse": float(mse.mean()), "psnr": float(psnr(out, images).mean()),
                     "steps": summary.get("steps"), "best_step": best.get("step"),
                     "stopped": summary.get("stopped")})
    return {"rows": rows}


def part_quality(args) -> dict:
    from pixelsmith.metrics.features import load_extractor, sample_quality

    rows, grid_paths = [], {}
    for name in (args.vae_mnist, args.vae_cifar10, args.vae_faces):
        model = load_model(name)
        kind = data_kind(model)
        data = split_data(kind, None)
        real = data["test_x"][: args.limit or None]
        n = len(real)
        extractor = load_extractor(EXTRACTOR_OF[kind])
        generator = torch.Generator().manual_seed(1)
        reference = data["train_x"][torch.randperm(len(data["train_x"]), generator=generator)[:n]]
        samples = draw_samples(model, n)
        if not args.limit:
            grid_paths[name] = write_sample_grid(name, samples[:64])
        for label, fake in (("training images (floor)", reference),
                            ("reconstructions", reconstructions(model, real)),
                            ("samples, T=1", samples)):
            scores = sample_quality(real, fake.clamp(0, 1), extractor)
            rows.append({"model": name, "data": kind, "against": label, "n": n, **scores})
            print(f"quality {name} {label}: {scores}", file=sys.stderr)
    return {"rows": rows, "grids": grid_paths}


@torch.no_grad()
def draw_samples(model: torch.nn.Module, n: int, first_seed: int = 0) -> torch.Tensor:
    """``n`` samples (T = 1) in [0, 1], in batches of 500 seeded first_seed + 0, 500, ..."""
    return torch.cat([model.sample(min(500, n - i), seed=first_seed + i)
                      for i in range(0, n, 500)]).clamp(0, 1)


def write_sample_grid(name: str, samples: torch.Tensor) -> str:
    """Save the first samples (seed 0, T = 1) as docs/images/<model>-samples.png; its path
    relative to docs/."""
    from benchmarks.gan_figures import save_sample_grid

    path = save_sample_grid(DOCS / "images" / f"{Path(name).name}-samples.png", samples)
    return str(path.relative_to(DOCS))


# -- report -----------------------------------------------------------------------------------

def _load(part: str) -> dict | None:
    path = RESULTS / f"vae-{part}.json"
    return json.loads(path.read_text()) if path.exists() else None


def section() -> str:
    lines = ["## Autoencoders and VAEs", "",
             "Written by `python -m benchmarks.vae` (protocols in its docstring). CIFAR-10: only "
             "the test split exists here, so models train on a seeded 9,000-image split of it "
             "and every CIFAR-10 figure is on the other 1,000 images. UTKFace: 609 held-out "
             "faces (seeded split of the 6,090).", ""]
    nll = _load("nll")
    if nll:
        meta = nll["meta"]
        lines += ["### MNIST negative log-likelihood (nats, lower is better)", "",
                  ("| model | -log p(x), IWAE k | -ELBO | test digits | target | measured on "
                   "| date |"),
                  "|---|---|---|---|---|---|---|",
                  f"| {nll['model']} | **{nll['nll']:.2f}** +- {nll['nll_sem']:.2f} (k={nll['k']}) "
                  f"| {nll['neg_elbo']:.2f} | {nll['images']} | <= 90 "
                  f"{'met' if nll['nll'] <= 90 else 'not met'} | {meta['machine']} "
                  f"| {meta['date'][:10]} |", "",
                  "Published, same protocol: " + "; ".join(
                      f"{k} {v}" for k, v in nll["published"].items()) + ".", ""]
    probe = _load("probe")
    if probe:
        lines += ["### Linear probe: classification from the latent means", "",
                  ("| model | data | latent dim | latent acc. (C) | raw pixels acc. (dim, C) "
                   "| train / test |"),
                  "|---|---|---|---|---|---|"]
        for r in probe["rows"]:
            lines.append(f"| {r['model']} | {r['data']} | {r['latent_dim']} | "
                         f"{100 * r['latent_accuracy']:.2f}% ({r.get('latent_C', 1.0)}) | "
                         f"{100 * r['pixel_accuracy']:.2f}% ({r['pixels_dim']}, "
                         f"{r.get('pixel_C', 1.0)}) | {r['train']} / {r['test']} |")
        lines.append("")
    comp = _load("compression")
    if comp:
        lines += ["### Latent code as a compressed file (a first look)", "",
                  "Latent means quantised with step delta, range-coded under the N(0, 1) prior "
                  "(real bytes per image, constriction; its range coder emits 32-bit words, "
                  "so every size is a multiple of 32 bits), decoded by the decoder mean.", "",
                  "| model | delta | bits / image | bits / pixel | PSNR |", "|---|---|---|---|---|"]
        for r in comp["rows"]:
            bits = "unquantised" if r["bits_per_image"] is None else f"{r['bits_per_image']:.0f}"
            bpp = "-" if r["bpp"] is None else f"{r['bpp']:.3f}"
            lines.append(f"| {r['model']} | {r['delta']} | {bits} | {bpp} | {r['psnr']:.2f} |")
        lines.append("")
    ae = _load("ae")
    if ae:
        lines += ["### CIFAR-10 autoencoders: reconstruction on the 1,000 held-out images", "",
                  "One recipe (`configs/ae-cifar10.yaml`, up to 8000 steps with early stopping "
                  "on validation PSNR) per code size, `--set model.args.latent_dim=N`; "
                  "`ae-cifar10` (128) is the shipped one. The runs validated on these same "
                  "1,000 images (the only held-out CIFAR-10 data here), so the checkpoint of "
                  "an early-stopped run was chosen on them: a slightly optimistic figure.", "",
                  "| model | latent dim | MSE | PSNR | steps run (best at) |",
                  "|---|---|---|---|---|"]
        for r in sorted(ae["rows"], key=lambda r: r["latent_dim"]):
            early = " early-stopped" if str(r.get("stopped", "")).startswith("early") else ""
            lines.append(f"| {r['model']} | {r['latent_dim']} | {r['mse']:.5f} | "
                         f"{r['psnr']:.2f} | {r.get('steps')} ({r.get('best_step')}){early} |")
        lines.append("")
    quality = _load("quality")
    if quality:
        lines += ["### Sample quality in pixelsmith's feature space", "",
                  "Feature-FID/KID against held-out images, in the embedding of pixelsmith's own "
                  "classifiers (docs/FEATURE_METRICS.md): comparable only among pixelsmith "
                  "models, never with Inception FIDs.", "",
                  "| model | compared | n | FID | KID x1000 | precision | recall |",
                  "|---|---|---|---|---|---|---|"]
        for r in quality["rows"]:
            lines.append(f"| {r['model']} | {r['against']} | {r['n']} | {r['fid']:.2f} | "
                         f"{1000 * r['kid']:.2f} | {r['precision']:.3f} | {r['recall']:.3f} |")
        lines.append("")
        grids = quality.get("grids", {})
        if grids:
            lines += ["Samples (seed 0, temperature 1, the decoder mean; "
                      "`pixelsmith generate --method NAME -n 64 --seed 0`):", ""]
            lines += [f"![{name} samples]({path})" for name, path in grids.items()]
            lines.append("")
    metas = [p["meta"] for p in (nll, probe, comp, ae, quality) if p]
    if metas:
        lines.append("Measured on " + "; ".join(sorted({m["machine"] for m in metas}))
                     + ", " + ", ".join(sorted({m["date"][:10] for m in metas})) + ".")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", default=",".join(PARTS), help=f"parts: {', '.join(PARTS)}")
    parser.add_argument("--k", type=int, default=500, help="importance samples for the NLL")
    parser.add_argument("--limit", type=int, help="first N images per set (a quick look)")
    parser.add_argument("--vae-mnist", default="vae-mnist")
    parser.add_argument("--vae-cifar10", default="vae-cifar10")
    parser.add_argument("--vae-faces", default="vae-faces")
    parser.add_argument("--ae-models", nargs="+", default=["ae-cifar10"])
    parser.add_argument("--output-dir", type=Path, default=RESULTS)
    args = parser.parse_args()
    parts = [p.strip() for p in args.only.split(",") if p.strip()]
    unknown = sorted(set(parts) - set(PARTS))
    if unknown:
        parser.error(f"unknown parts {unknown}; choose from {PARTS}")
    torch.manual_seed(0)
    args.output_dir.mkdir(parents=True, exist_ok=True)
    for part in parts:
        result = globals()[f"part_{part}"](args)
        result["meta"] = {"machine": machine_summary(), "limit": args.limit,
                          "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                          "command": "python -m benchmarks.vae " + " ".join(sys.argv[1:])}
        atomic_write_text(args.output_dir / f"vae-{part}.json", json.dumps(result, indent=2))
    if args.output_dir == RESULTS and not args.limit:
        replace_section(DOCS / "BENCHMARKS.md", SECTION, section())
    return 0


if __name__ == "__main__":
    sys.exit(main())
