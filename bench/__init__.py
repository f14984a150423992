"""Benchmarks that print figures and ratios against a baseline measured in the same run.

Run them all with `make bench` (or `python -m bench`); each module also runs alone.
They are never part of `make test`: timings on a shared machine are for reading,
not for asserting.
"""
