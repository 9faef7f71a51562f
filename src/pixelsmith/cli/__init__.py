"""The ``pixelsmith`` command (:mod:`~pixelsmith.cli.main`) and the per-file work behind it:
restoring, degrading, compressing and synthesizing files and folders. Only click loads at
start-up; each command imports what it uses.
"""
