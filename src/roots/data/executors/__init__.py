"""Executors run one function over many tasks: locally in processes (local.py)."""
