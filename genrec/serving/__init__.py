"""Serving: recommendations from a saved run, in Python and over HTTP."""
