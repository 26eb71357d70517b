"""Workflows over every stage: quickstart, recipe ablations, model inspection, the run report.

These sit at the bottom of the import graph (they may import any stage); stages never import them.
"""
