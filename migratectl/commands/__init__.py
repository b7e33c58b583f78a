"""The commands: one module (or package) per command family, each returning result objects.

The command line (:mod:`migratectl.cli`) parses options and renders what these return; the
public Python API (:mod:`migratectl`) re-exports them.
"""
