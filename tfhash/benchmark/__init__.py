"""Benchmarks: a grid of cached training runs over datasets, methods, code lengths and seeds, and their tables.

Above `training` in the layer order (beside export and cli). `harness` plans
and runs the grid, `aggregate` holds the statistics (pure functions over
report dicts), `table` and `plots` render them.
"""
