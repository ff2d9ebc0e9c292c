"""citysentinel: city public-safety and operations platform."""

__version__ = "0.1.0"
