"""The GAN benchmark (``python -m benchmarks.gan``): parts synthesis, inpaint and deblur,
each in its own module; the protocol is in docs/BENCHMARKS.md, section "gan"."""
