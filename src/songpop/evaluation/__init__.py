"""Evaluation internals; import the public API from :mod:`songpop.evaluate`."""
