"""Registry of restoration methods per task, loaded lazily: listing them imports nothing heavy.

A method is a callable ``fn(y, known) -> x_hat`` on (N, C, H, W) float tensors in [0, 1]
(:class:`~pixelsmith.restoration.method.RestoreMethod`). Classical baselines and trained
models are registered here under one name each, so the CLI, the evaluator and the API stay
task-agnostic.
"""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass
from pathlib import Path

from pixelsmith.degrade.known import TASKS, Known
from pixelsmith.errors import PixelsmithError
from pixelsmith.restoration.method import RestoreMethod

RestoreFn = RestoreMethod  # the type a registered method loads to


@dataclass(frozen=True)
class Method:
    """One registered method: where its function lives and what it needs to run."""

    name: str
    task: str
    target: str  # "module:function", imported on first use
    summary: str
    kind: str = "classical"
    requires: tuple[str, ...] = ()  # importable modules it needs (optional dependencies)
    needs: tuple[str, ...] = ()  # Known fields that must be set (e.g. "kernel")
    source: str | None = None  # for trained models: the shipped name or model folder
    scale: int | None = None  # super-resolution models: the one factor they upscale by

    def fits(self, known: Known) -> bool:
        """Whether this method can take inputs described by ``known`` (an SR model's scale)."""
        return self.scale is None or known.scale is None or int(known.scale) == self.scale

    def available(self) -> bool:
        return all(importlib.util.find_spec(mod) is not None for mod in self.requires)

    def load(self) -> RestoreFn:
        missing = [mod for mod in self.requires if importlib.util.find_spec(mod) is None]
        if missing:
            raise PixelsmithError(
                f"method '{self.name}' needs the Python package(s) {', '.join(missing)}; "
                "install them with: pip install 'pixelsmith[classical]'"
            )
        module_name, func_name = self.target.split(":")
        func = getattr(importlib.import_module(module_name), func_name)
        if self.source is not None:
            return func(self.source)
        return func() if isinstance(func, type) else func  # a class: one instance per load


_C = "pixelsmith.restoration.classical"
_REGISTRY: dict[str, dict[str, Method]] = {task: {} for task in TASKS}


def register(method: Method) -> None:
    """Add a method to the registry (later registrations of a name replace earlier ones)."""
    if method.task not in _REGISTRY:
        raise ValueError(f"unknown task {method.task!r}")
    _REGISTRY[method.task][method.name] = method


for _m in (
    Method("bm3d", "denoise", f"{_C}.denoise:bm3d_denoise", "BM3D (bm3d package)",
           requires=("bm3d",), needs=("sigma",)),
    Method("nlm", "denoise", f"{_C}.denoise:nlm_denoise", "non-local means (scikit-image)",
           needs=("sigma",)),
    Method("tv", "denoise", f"{_C}.denoise:tv_denoise", "total variation, Chambolle (scikit-image)",
           needs=("sigma",)),
    Method("wavelet", "denoise", f"{_C}.denoise:wavelet_denoise",
           "wavelet BayesShrink soft thresholding (scikit-image)", needs=("sigma",)),
    Method("wiener", "deblur", f"{_C}.deblur:wiener_deblur", "Wiener filter in the Fourier domain",
           needs=("kernel",)),
    Method("deblur", "deblur", "pixelsmith.restoration.pnp:PnPDeblur",
           "plug-and-play HQS: FFT data step + the shipped denoisers (DPIR-style)",
           kind="pretrained", needs=("kernel",)),
    Method("richardson-lucy", "deblur", f"{_C}.deblur:richardson_lucy_deblur",
           "Richardson-Lucy deconvolution", needs=("kernel",)),
    Method("biharmonic", "inpaint", f"{_C}.inpaint:biharmonic_inpaint",
           "biharmonic inpainting (scikit-image)", needs=("mask",)),
    Method("telea", "inpaint", f"{_C}.inpaint:telea_inpaint", "fast marching, Telea (OpenCV)",
           requires=("cv2",), needs=("mask",)),
    Method("bicubic", "sr", f"{_C}.sr:bicubic_upscale", "MATLAB-style bicubic interpolation",
           needs=("scale",)),
    Method("identity", "dejpeg", f"{_C}.dejpeg:identity", "the decoded JPEG itself"),
    Method("identity", "deblur", f"{_C}.dejpeg:identity",
           "the blurred input itself (the reference for blind deblurring)"),
    Method("photo-chain", "photo", "pixelsmith.restoration.photo:PhotoChain",
           "estimated sigma -> denoise -> de-JPEG (quality known) -> SR: the shipped models "
           "in sequence", kind="pretrained"),
    Method("photo-classical", "photo", "pixelsmith.restoration.photo:ClassicalPhotoChain",
           "(C)BM3D at the estimated sigma, then bicubic", requires=("bm3d",)),
):
    register(_m)


#: Tasks a VAE (a ``conv-vae`` model, family "vae") restores in its latent space
#: (pixelsmith.restoration.vae). VAE methods have kind "vae" and are never a task's default.
VAE_TASKS = ("denoise", "inpaint")


def vae_method(source: str, task: str, config: dict) -> Method:
    """A VAE model (its ``config``) as a method of ``task`` (denoise or inpaint)."""
    if task not in VAE_TASKS:
        raise PixelsmithError(f"model '{source}' is a VAE: it restores only with --task "
                              f"{' or '.join(VAE_TASKS)}, not '{task}'")
    args = config["network"].get("args", {})
    size = int(args.get("image_size", 28))
    channels = int(config.get("channels", args.get("channels", 1)))
    what = "inpainting: posterior fitted to the known pixels" if task == "inpaint" \
        else "denoising: encode, decode the posterior mean"
    loader = "load_vae_inpainter" if task == "inpaint" else "load_vae_denoiser"
    return Method(str(source), task, f"pixelsmith.restoration.vae:{loader}",
                  f"VAE {what} ({'gray' if channels == 1 else 'RGB'} {size}x{size}; "
                  "--samples N for an uncertainty map)",
                  kind="vae", needs=("mask",) if task == "inpaint" else (), source=str(source))


def model_method(source: str, task: str) -> Method:
    """A trained model (shipped name or model folder) as a method of ``task``."""
    from pixelsmith.restoration.vae import is_vae_config
    from pixelsmith.zoo import read_config, resolve_model_dir

    config = read_config(resolve_model_dir(source))
    if is_vae_config(config):
        return vae_method(source, task, config)
    if config.get("task") != task:
        raise PixelsmithError(
            f"model '{source}' is for task '{config.get('task')}', not '{task}'"
        )
    args = config["network"].get("args", {})
    # an SR model upscales by its scale; a photo model by its scale, 1 when it keeps the size
    scale = args.get("scale") if task == "sr" else args.get("scale", 1) if task == "photo" \
        else None
    return Method(str(source), task, "pixelsmith.restoration.trained:load_restore_fn",
                  config.get("summary", f"trained {config['network']['name']}"),
                  kind="pretrained", needs=tuple(config.get("needs", ())), source=str(source),
                  scale=None if scale is None else int(scale))


def task_methods(task: str) -> dict[str, Method]:
    """Methods of ``task`` by name: shipped models first, then the registered baselines."""
    if task not in _REGISTRY:
        raise PixelsmithError(f"unknown task '{task}' (choose from {', '.join(TASKS)})")
    from pixelsmith.zoo import shipped_models

    index = shipped_models()
    shipped = {name: model_method(name, task)
               for name, info in index.items() if info.get("task") == task}
    if task in VAE_TASKS:  # shipped VAEs restore in their latent space
        shipped.update(_shipped_vae_methods(task, index))
    return {**shipped, **_REGISTRY[task]}


def _shipped_vae_methods(task: str, index: dict[str, dict]) -> dict[str, Method]:
    """The shipped conv-vae models as methods of ``task``: among the models whose index task
    is not a restoration task (``ship_model.py`` writes the family, "vae"), read their configs."""
    from pixelsmith.restoration.vae import is_vae_config
    from pixelsmith.zoo import read_config, resolve_model_dir

    found = {}
    for name, info in index.items():
        if info.get("task") not in TASKS:
            config = read_config(resolve_model_dir(name))
            if is_vae_config(config):
                found[name] = vae_method(name, task, config)
    return found


def general_methods(task: str) -> dict[str, Method]:
    """The methods of ``task`` meant for any photo: all but the VAEs, which only know the one
    kind of image they were trained on (the demo and ``evaluate`` without ``--methods``)."""
    return {name: m for name, m in task_methods(task).items() if m.kind != "vae"}


def get_method(task: str, name: str) -> Method:
    """The method ``name`` of ``task`` (or a model folder path), else a one-line error."""
    methods = task_methods(task)
    if name in methods:
        return methods[name]
    if Path(name).is_dir():
        return model_method(name, task)
    raise PixelsmithError(
        f"unknown method '{name}' for task '{task}' (choose from {', '.join(methods)}, "
        "or give a model folder)"
    )


DEFAULT_METHOD = {
    "denoise": "bm3d",
    "deblur": "deblur",
    "inpaint": "biharmonic",
    "sr": "bicubic",
    "dejpeg": "identity",
    "photo": "photo-chain",
}


def default_models(task: str) -> dict[str, dict]:
    """Shipped models marked ``default`` for ``task`` in zoo/index.json: name -> index entry.

    A model is marked default only when the benchmark shows it beats the baselines. VAEs are
    listed under task "vae" by ``scripts/ship_model.py``, so they never appear here.
    """
    from pixelsmith.zoo import shipped_models

    return {name: info for name, info in shipped_models().items()
            if info.get("task") == task and info.get("default")}


def default_method(task: str, channels: int | None = None, known: Known | None = None) -> str:
    """Best method for ``task``, for images of ``channels`` channels and what is ``known``.

    A default shipped model that fits (its channels, its super-resolution scale) wins over the
    baselines; for deblurring, a known kernel goes to the kernel-using ``deblur`` method and
    only an unknown one to a blind model. Without ``known`` the answer is the general default.
    """
    return default_choice(task, channels, known)[0]


def default_choice(task: str, channels: int | None = None, known: Known | None = None
                   ) -> tuple[str, str | None]:
    """:func:`default_method` and, when it is a fallback, why (else None), for the user.

    A fallback is a choice the user may not expect: a super-resolution factor no shipped
    model has (bicubic runs), a gray image through a colour model (or the reverse), a
    baseline whose optional package is missing.
    """
    methods = task_methods(task)
    kernel_known = known is None or known.kernel is not None
    if task == "deblur" and kernel_known and methods["deblur"].available():
        return "deblur", None
    scale = None if known is None else known.scale
    if task == "photo" and known is not None and scale is None:
        scale = 1  # a photo keeps its size unless --scale says otherwise
    models = {name: info for name, info in default_models(task).items()
              if getattr(methods.get(name), "kind", None) != "vae"}
    fitting = {name: info for name, info in models.items()
               if scale is None or info.get("scale") in (None, scale)}
    if fitting:
        same = [name for name, info in fitting.items() if int(info["channels"]) == channels]
        if same:
            return same[0], None
        name = max(fitting, key=lambda n: int(fitting[n]["channels"]))
        if channels is None:
            return name, None
        how = "on each channel" if int(fitting[name]["channels"]) == 1 \
            else "on the image repeated to 3 channels"
        kind = "gray" if channels == 1 else f"{channels}-channel"
        return name, f"no {kind} model for {task}: '{name}' runs {how}"
    why = None
    if models and scale is not None and task == "sr":
        scales = sorted({f"x{info['scale']}" for info in models.values() if info.get("scale")})
        why = (f"no trained model for x{scale} super-resolution (shipped: "
               f"{', '.join(scales)}): using {DEFAULT_METHOD[task]}")
    preferred = DEFAULT_METHOD[task]
    if methods[preferred].available():
        return preferred, why
    name = next(name for name, m in methods.items() if m.available() and m.kind != "vae")
    missing = ", ".join(methods[preferred].requires)
    return name, f"'{preferred}' needs the Python package(s) {missing}: using '{name}'"
