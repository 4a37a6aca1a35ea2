"""The package version (setup.cfg states the same number)."""

__version__ = "0.1.0"
