"""`nox -s bench`: coord's hot paths measured against baselines taken in the same run.

core.py holds the pure decisions (statistics, ratios, pass/fail, the table); infra.py the effects
(processes, servers, repositories); rows_*.py one module per group of rows; run.py the entry point.
"""
