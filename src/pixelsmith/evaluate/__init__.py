"""Evaluation: :mod:`~pixelsmith.evaluate.protocol` (the reproducible benchmark protocol and its
JSON/Markdown reports), :mod:`~pixelsmith.evaluate.report` (the HTML page) and
:mod:`~pixelsmith.evaluate.demo` (``pixelsmith demo``).
"""
