"""Benchmarks of the template: `nox -s bench` runs them and prints a table of side-by-side ratios."""
