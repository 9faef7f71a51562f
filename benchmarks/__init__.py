"""Scripts that measure quality, speed and memory and write the tables in docs/.

Run each as a module from the repository root, e.g. ``python -m benchmarks.gan``.
"""
