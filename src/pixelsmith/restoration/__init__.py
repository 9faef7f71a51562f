"""Restoration: ``(y, what is known about the degradation) -> x_hat``.

:mod:`~pixelsmith.restoration.restorer` (the :class:`Restorer` and ``pixelsmith.restore``),
:mod:`~pixelsmith.restoration.registry` (the methods per task and the default choice),
:mod:`~pixelsmith.restoration.method` (the contract every method satisfies),
:mod:`~pixelsmith.restoration.trained` (shipped and user-trained networks as methods),
:mod:`~pixelsmith.restoration.tiling` (bounded memory on large images),
:mod:`~pixelsmith.restoration.pnp` (plug-and-play deblurring with the denoisers),
:mod:`~pixelsmith.restoration.vae` (inpainting through a VAE's latent space) and
:mod:`~pixelsmith.restoration.classical` (the non-learned baselines).
"""
