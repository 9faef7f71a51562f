"""Self-ensemble (``--ensemble``): PSNR gain and time cost of averaging a shipped model over
the 8 flips and quarter turns, per default model, on its standard test set.

    python -m benchmarks.ensemble                 # every row
    python -m benchmarks.ensemble --limit 8       # first 8 images of each set

Cases come from the evaluation protocol (docs/EVALUATION.md, seed 0): BSD68 and CBSD68 at
sigma 25, LIVE1 gray at JPEG quality 10, Set5 x4 (Y channel, 4 pixels cropped). Writes the
section "ensemble" of docs/BENCHMARKS.md; the quality targets of the models hold without it.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from benchmarks.common import markdown_table, meta_lines, replace_section, run_meta, write_json
from pixelsmith.evaluate.protocol import EvalParams, image_generator, load_clean, make_case, score
from pixelsmith.io import list_images
from pixelsmith.restoration.restorer import Restorer
from pixelsmith.settings import dataset_path

ROOT = Path(__file__).resolve().parents[1]
#: (model, data set, protocol)
ROWS = (
    ("denoise-gray", "test/BSD68", EvalParams("denoise", sigma=25, color="gray")),
    ("denoise-color", "test/CBSD68", EvalParams("denoise", sigma=25, color="rgb")),
    ("dejpeg-gray", "test/LIVE1/gray", EvalParams("dejpeg", quality=10, color="gray")),
    ("sr-x4", "test/Set5/HR", EvalParams("sr", scale=4, color="rgb")),
)


def measure(model: str, data: str, params: EvalParams, limit: int | None) -> dict:
    """Mean PSNR and seconds per image of the model alone and with the ensemble."""
    params = params.resolved()
    single, both = Restorer(params.task, model), Restorer(params.task, model, ensemble=True)
    totals = {"psnr": 0.0, "psnr_ensemble": 0.0, "seconds": 0.0, "seconds_ensemble": 0.0}
    files = list_images(dataset_path(data))[:limit]
    for index, path in enumerate(files):
        reference, degraded, known = make_case(load_clean(path, params), params,
                                               image_generator(params.seed, index))
        for key, restorer in (("", single), ("_ensemble", both)):
            start = time.perf_counter()
            out = restorer(degraded, known)
            totals["seconds" + key] += time.perf_counter() - start
            totals["psnr" + key] += score(out, reference, params)[0]
    return {k: v / len(files) for k, v in totals.items()} | {"images": len(files)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int)
    parser.add_argument("--results", type=Path, default=ROOT / "docs" / "results")
    parser.add_argument("--docs", type=Path, default=ROOT / "docs" / "BENCHMARKS.md")
    args = parser.parse_args()
    meta = run_meta()
    results, rows = {}, []
    for model, data, params in ROWS:
        r = measure(model, data, params, args.limit)
        results[model] = {"data": data, **r}
        rows.append([model, f"{data} ({r['images']})", f"{r['psnr']:.2f}",
                     f"{r['psnr_ensemble']:.2f}", f"{r['psnr_ensemble'] - r['psnr']:+.2f}",
                     f"{r['seconds']:.2f}", f"{r['seconds_ensemble']:.2f}"])
        print(model, r, flush=True)
    write_json(args.results / "ensemble.json", {"meta": meta, "results": results})
    replace_section(args.docs, "ensemble", "\n".join([
        "## Self-ensemble (--ensemble)", "", meta_lines(meta), "",
        markdown_table(["model", "set", "PSNR", "PSNR ensemble", "gain", "s / image",
                        "s / image ensemble"], rows)]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
