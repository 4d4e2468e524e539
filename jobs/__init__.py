"""Runnable jobs built on :mod:`pipeline`: each is a function with a CLI entry."""
