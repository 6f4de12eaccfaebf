"""The package version (the same as pyproject.toml's), importable without the package's facade."""

__all__ = ["__version__"]

__version__ = "0.1.0"
