"""Blur kernels: Gaussian, defocus disk, random camera shake, and kernels read from files.

Every kernel is a float32 (kh, kw) tensor, non-negative and normalised to sum 1. It is applied
as a true convolution centred at index (kh // 2, kw // 2) (see :class:`~pixelsmith.degrade.Blur`).
Random kernels draw every random number from an explicit ``torch.Generator``.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch

from pixelsmith.errors import PixelsmithError

_LOG_ANXIETY = (math.log10(3e-4), -2.0)
_NEGATIVE_TOLERANCE = 1e-6  # relative to the largest value: round-off below this is clipped
#: the most memory building one kernel may take (bytes): larger kernels are refused up front
KERNEL_MEMORY_LIMIT = 1 << 30


def _check_kernel_memory(what: str, size: int, bytes_per_cell: float) -> None:
    """A one-line error, before any array exists, for a kernel too large to build."""
    needed = float(size) ** 2 * bytes_per_cell
    if needed > KERNEL_MEMORY_LIMIT:
        largest = int(math.isqrt(int(KERNEL_MEMORY_LIMIT / bytes_per_cell)))
        raise PixelsmithError(f"a {what} kernel of side {size} would need {needed / 2**30:.3g} "
                              f"GB to build; sides up to {largest} are allowed")


def _normalised(array: np.ndarray, source: str = "kernel") -> torch.Tensor:
    """Check that ``array`` is a usable 2-D kernel and return it as float32 summing to 1."""
    array = np.asarray(array)
    if array.dtype == np.bool_ or not np.issubdtype(array.dtype, np.number):
        raise PixelsmithError(f"{source}: kernel must hold numbers, not {array.dtype}")
    array = array.astype(np.float64)
    if array.ndim != 2:
        raise PixelsmithError(f"{source}: kernel must be a 2-D array, got shape {array.shape}")
    if array.size == 0:
        raise PixelsmithError(f"{source}: kernel is empty (shape {array.shape})")
    if not np.isfinite(array).all():
        raise PixelsmithError(f"{source}: kernel holds NaN or infinite values")
    peak = np.abs(array).max()
    if array.min() < -_NEGATIVE_TOLERANCE * peak:
        raise PixelsmithError(f"{source}: kernel has negative values (min {array.min():.3g})")
    array = np.clip(array, 0.0, None)
    total = array.sum()
    if total <= 0:
        raise PixelsmithError(f"{source}: kernel is all zeros")
    return torch.from_numpy(array / total).float()


def _odd_size(radius: float) -> int:
    return 2 * int(math.ceil(radius)) + 1


def _delta(size: int) -> np.ndarray:
    """The identity kernel of side ``size``: a single 1 at the centre (size // 2, size // 2)."""
    kernel = np.zeros((size, size))
    kernel[size // 2, size // 2] = 1.0
    return kernel


def gaussian_kernel(
    sigma: float | tuple[float, float], size: int | None = None, angle: float = 0.0
) -> torch.Tensor:
    """A Gaussian blur kernel, isotropic (``sigma``) or anisotropic (``sigma=(sx, sy)``).

    ``sx`` and ``sy`` are the standard deviations along the kernel's own axes before it is
    rotated counter-clockwise by ``angle`` degrees. ``size`` (default ``2 * ceil(3 * max sigma)
    + 1``) is the side of the square kernel; the Gaussian is centred on the kernel's middle, as
    MATLAB's ``fspecial('gaussian')`` does, so an even ``size`` shifts the blurred image by half
    a pixel relative to the (size // 2) convolution centre. A sigma of 0 gives the identity.
    """
    sx, sy = map(float, sigma) if isinstance(sigma, (tuple, list)) else (float(sigma),) * 2
    if sx < 0 or sy < 0 or not (math.isfinite(sx) and math.isfinite(sy)):
        raise ValueError(f"Gaussian sigma must be finite and >= 0, got {sigma}")
    size = _odd_size(3 * max(sx, sy)) if size is None else int(size)
    if size < 1:
        raise ValueError(f"kernel size must be >= 1, got {size}")
    _check_kernel_memory("Gaussian blur", size, 64)  # a few float64 grids of size x size
    coords = np.arange(size, dtype=np.float64) - (size - 1) / 2
    cols, rows = np.meshgrid(coords, coords)  # x to the right, y downwards
    if max(sx, sy) == 0:
        return _normalised(_delta(size))
    theta = math.radians(angle)
    u = cols * math.cos(theta) - rows * math.sin(theta)  # image y points down: flip the rotation
    v = cols * math.sin(theta) + rows * math.cos(theta)
    eps = 1e-12  # a zero sigma along one axis gives a line kernel
    values = np.exp(-0.5 * (u**2 / max(sx, eps) ** 2 + v**2 / max(sy, eps) ** 2))
    if values.sum() == 0:
        values = _delta(size)
    return _normalised(values)


def disk_kernel(radius: float, supersample: int = 16) -> torch.Tensor:
    """A uniform disk (out-of-focus blur) of ``radius`` pixels with an antialiased edge.

    Each kernel value is the fraction of its pixel covered by the disk, estimated on a
    ``supersample`` x ``supersample`` grid, like MATLAB's ``fspecial('disk')``. Side
    ``2 * ceil(radius) + 1``; radius 0 gives the identity.
    """
    radius = float(radius)
    if radius < 0 or not math.isfinite(radius):
        raise ValueError(f"disk radius must be finite and >= 0, got {radius}")
    size = _odd_size(radius)
    _check_kernel_memory("disk blur", size, 10 * supersample**2)  # the supersampled grid
    sub = (np.arange(supersample) + 0.5) / supersample - 0.5  # offsets inside one pixel
    coords = (np.arange(size) - size // 2)[:, None] + sub[None, :]  # (size, supersample)
    x2 = coords[None, :, None, :] ** 2
    y2 = coords[:, None, :, None] ** 2
    inside = (x2 + y2) <= radius**2
    coverage = inside.mean(axis=(2, 3))
    if coverage.sum() == 0:  # tiny radius: all subsamples miss
        coverage = _delta(size)
    return _normalised(coverage)


def _random_trajectory(
    steps: int, length: float, generator: torch.Generator | None, anxiety: float | None
) -> np.ndarray:
    """A camera-shake path of ``length`` pixels (complex positions x + iy), after Boracchi & Foi.

    The velocity has inertia: each step adds a Gaussian jitter, a pull back towards the start
    (centripetal term) and, rarely, an abrupt turn back (an impulsive shake); the speed is then
    renormalised so that every step has the same length. The strengths of these effects, and
    ``anxiety`` (how erratic the path is) when not given, are drawn at random so the kernels
    range from near-straight lines to curly paths.
    """
    device = generator.device if generator is not None else "cpu"

    def draw(fn, *shape):
        return fn(*shape, generator=generator, device=device, dtype=torch.float64).cpu().numpy()

    centripetal, p_shake, shake, angle, anxiety_draw = draw(torch.rand, 5)
    jitter = draw(torch.randn, steps, 2)
    events = draw(torch.rand, steps, 2)
    if anxiety is None:  # log-uniform: from near-straight strokes to curly ones
        anxiety = 10 ** (_LOG_ANXIETY[0] + (_LOG_ANXIETY[1] - _LOG_ANXIETY[0]) * anxiety_draw)
    centripetal, p_shake, shake = 0.7 * centripetal, 0.2 * p_shake, 10.0 * shake
    step = length / (steps - 1)
    jitter_c = (jitter[:, 0] + 1j * jitter[:, 1]).tolist()
    turns = np.exp(1j * (math.pi + events[:, 1] - 0.5)).tolist()
    shakes = (events[:, 0] < p_shake * anxiety).tolist()
    velocity = complex(math.cos(2 * math.pi * angle), math.sin(2 * math.pi * angle)) * step
    position = 0j
    path = [position]
    for t in range(steps - 1):
        kick = 2 * velocity * turns[t] if shakes[t] else 0j
        velocity += kick + anxiety * (shake * jitter_c[t] - centripetal * position) * step
        speed = abs(velocity)
        velocity = velocity / speed * step if speed > 0 else complex(step, 0.0)
        position += velocity
        path.append(position)
    return np.asarray(path, dtype=np.complex128)


def _fit_scale(path: np.ndarray, centre: int, size: int) -> float:
    """Largest factor <= 1 keeping a centred path inside [0, size - 1) on both axes."""
    scale = 1.0
    high = size - 1 - centre - 1e-6  # bilinear splatting reaches one pixel past floor(x)
    for coord in (path.real, path.imag):
        if coord.max() > high:
            scale = min(scale, high / coord.max())
        if coord.min() < -centre:
            scale = min(scale, centre / -coord.min())
    return scale


def _rasterise(points: np.ndarray, size: int) -> np.ndarray:
    """Accumulate sub-pixel points (x + iy) into a size x size grid with bilinear weights."""
    grid = np.zeros((size, size), dtype=np.float64)
    x, y = points.real, points.imag
    x0, y0 = np.floor(x).astype(int), np.floor(y).astype(int)
    fx, fy = x - x0, y - y0
    for dy, dx, w in ((0, 0, (1 - fy) * (1 - fx)), (0, 1, (1 - fy) * fx),
                      (1, 0, fy * (1 - fx)), (1, 1, fy * fx)):
        np.add.at(grid, (np.minimum(y0 + dy, size - 1), np.minimum(x0 + dx, size - 1)), w)
    return grid


def motion_kernel(
    size: int,
    generator: torch.Generator | None = None,
    *,
    length: float | None = None,
    anxiety: float | None = None,
    steps: int = 1000,
) -> torch.Tensor:
    """A random camera-shake (motion blur) kernel of side ``size``, drawn from ``generator``.

    The trajectory is a random walk with inertia (Boracchi & Foi 2012, as used by DeblurGAN),
    sampled at ``steps`` sub-pixel points and rasterised with bilinear accumulation, so the
    kernel is a smooth, connected stroke. ``length`` is the path length in pixels (default
    ``size``); ``anxiety`` (default: drawn log-uniformly in [3e-4, 1e-2]) scales how erratic the
    path is; above about 0.01 paths curl up into small blobs. The path is shifted so that the
    kernel's centre of mass sits at (size // 2, size // 2) (no hidden translation), and shrunk
    if needed to fit around it.
    """
    size = int(size)
    if size < 3:
        raise ValueError(f"motion kernel size must be >= 3, got {size}")
    _check_kernel_memory("motion blur", size, 32)
    if steps < 2:
        raise ValueError(f"steps must be >= 2, got {steps}")
    length = float(size) if length is None else float(length)
    if not length > 0:
        raise ValueError(f"motion length must be > 0, got {length}")
    path = _random_trajectory(steps, length, generator, anxiety)
    path -= path.mean()  # centroid at the origin: the kernel's mass centres on the middle
    centre = size // 2
    path *= _fit_scale(path, centre, size)
    kernel = _rasterise(path + complex(centre, centre), size)
    return _normalised(kernel, "motion kernel")


def _split_reference(spec: str | Path) -> tuple[Path, list[str]]:
    """``file.mat:var:3`` -> (Path('file.mat'), ['var', '3']); an existing path is kept whole."""
    text = str(spec)
    path = Path(text)
    if path.exists():
        return path, []
    parts = text.split(":")
    for cut in (len(parts) - 1, len(parts) - 2):
        if cut >= 1:
            head = Path(":".join(parts[:cut]))
            if head.exists():
                return head, parts[cut:]
    raise PixelsmithError(f"{text}: no such kernel file")


def _pick(value, name: str, index: str | None, source: str) -> np.ndarray:
    """Select entry ``index`` of a MATLAB cell / stacked array, or check that ``value`` is 2-D."""
    array = np.asarray(value)
    if array.dtype == object or array.ndim > 2:
        entries = list(array.reshape(-1)) if array.dtype == object else list(array)
        if index is None:
            raise PixelsmithError(
                f"{source}: '{name}' holds {len(entries)} kernels; pick one with "
                f"{source}:{name}:INDEX (0-based)"
            )
        try:
            return np.asarray(entries[int(index)])
        except (ValueError, IndexError):
            raise PixelsmithError(
                f"{source}: index '{index}' is not in 0..{len(entries) - 1} for '{name}'"
            ) from None
    if index is not None:
        raise PixelsmithError(f"{source}: '{name}' is a single kernel; drop the ':{index}'")
    return array


def _choose_variable(variables: dict, selector: list[str], source: str) -> np.ndarray:
    """Pick ``selector`` = [name] or [name, index] from the variables of a .mat / .npz file."""
    names = sorted(variables)
    if not names:
        raise PixelsmithError(f"{source}: file holds no arrays")
    if len(selector) > 2:
        raise PixelsmithError(f"{source}: use PATH, PATH:NAME or PATH:NAME:INDEX")
    if selector:
        name = selector[0]
    elif len(names) == 1:
        name = names[0]
    else:
        raise PixelsmithError(
            f"{source}: holds several arrays ({', '.join(names)}); pick one with {source}:NAME"
        )
    if name not in variables:
        raise PixelsmithError(f"{source}: no array '{name}' (has {', '.join(names)})")
    return _pick(variables[name], name, selector[1] if len(selector) > 1 else None, source)


def _read_mat_v73(path: Path) -> dict:
    """Variables of a MATLAB v7.3 (HDF5) file via h5py, transposed back to MATLAB's layout."""
    try:
        import h5py
    except ImportError:
        raise PixelsmithError(
            f"{path}: MATLAB v7.3 file; install h5py to read it (pip install h5py), or save it "
            "with MATLAB's -v7 option"
        ) from None

    def convert(handle, item):
        data = item[()]
        if data.dtype == h5py.ref_dtype or data.dtype == object:
            flat = [np.asarray(handle[ref][()]).T for ref in data.T.reshape(-1)]
            cell = np.empty(len(flat), dtype=object)
            cell[:] = flat
            return cell
        return np.asarray(data).T

    with h5py.File(path, "r") as handle:
        return {
            name: convert(handle, item)
            for name, item in handle.items()
            if not name.startswith("#") and isinstance(item, h5py.Dataset)
        }


def _read_mat(path: Path) -> dict:
    with open(path, "rb") as handle:
        header = handle.read(128)
    if b"MATLAB 7.3" in header[:20]:
        return _read_mat_v73(path)
    import scipy.io

    try:
        data = scipy.io.loadmat(str(path))
    except NotImplementedError:  # HDF5-based file without the usual text header
        return _read_mat_v73(path)
    except (ValueError, OSError, TypeError) as exc:
        raise PixelsmithError(f"{path}: cannot read MATLAB file ({exc})") from None
    return {k: v for k, v in data.items() if not k.startswith("__")}


def _read_npz(path: Path) -> dict:
    try:
        with np.load(path, allow_pickle=False) as data:
            return {name: data[name] for name in data.files}
    except (ValueError, OSError) as exc:
        raise PixelsmithError(f"{path}: cannot read .npz file ({exc})") from None


def _read_image_kernel(path: Path) -> np.ndarray:
    from pixelsmith.io import read_image

    return read_image(path, gray=True)[0, 0].double().numpy()


def _read_npy(path: Path) -> np.ndarray:
    try:
        return np.load(path, allow_pickle=False)
    except (ValueError, OSError) as exc:
        raise PixelsmithError(f"{path}: cannot read .npy file ({exc})") from None


def load_kernel(spec: str | Path) -> torch.Tensor:
    """Read a blur kernel file and normalise it to sum 1 (float32, 2-D).

    Formats by suffix: image files (PNG etc., read as gray, e.g. the USRNet ``k_large_*.png``),
    ``.npy``, ``.npz`` and ``.mat`` (MATLAB v5 via scipy; v7.3 / HDF5 via h5py if installed).
    A file holding several arrays is read as ``PATH:NAME``; a cell array or a stack of kernels
    as ``PATH:NAME:INDEX`` with a 0-based index (``kernels_12.mat:kernels:3``). Negative,
    all-zero, non-finite or non-2-D kernels raise :class:`PixelsmithError`.
    """
    path, selector = _split_reference(spec)
    if not path.is_file():
        raise PixelsmithError(f"{path}: not a file")
    suffix = path.suffix.lower()
    source = str(path)
    if suffix in (".mat", ".npz"):
        variables = _read_mat(path) if suffix == ".mat" else _read_npz(path)
        array = _choose_variable(variables, selector, source)
    elif selector:
        raise PixelsmithError(f"{source}: ':{':'.join(selector)}' only applies to .mat/.npz files")
    elif suffix == ".npy":
        array = _read_npy(path)
    else:
        array = _read_image_kernel(path)
    return _normalised(array, source)
