"""Synthetic objects and classes, tiny models and tiny configurations that tests, benchmarks, docs and examples share.

Everything here is built on the spot (no downloads) and seeded. It sits above both method packages: it builds their
configs and guidances, and neither imports it.
"""
