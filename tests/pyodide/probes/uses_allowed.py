"""Follows the rules with pure-Python packages from the local environment (mounted into
Pyodide when allowed): a package directory and a single-module package."""
import sortedcontainers
import typing_extensions


def ordered(values):
    return list(sortedcontainers.SortedList(values)), typing_extensions.__name__
