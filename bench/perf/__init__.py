"""The performance bench (issue 10): ``python -m bench.perf`` prints one table of every measure
with its baseline measured in the same run and the ratio; ``--smoke`` is a ~30-second version."""
