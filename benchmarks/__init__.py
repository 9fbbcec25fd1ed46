"""Developer benchmarks, their targets and their logs; not installed with the package.

``python -m benchmarks.bench`` from the repository root; see README.md here.
"""
