"""reviewbot: a robot reviewer for Linux-kernel style mailing lists."""

__version__ = "0.1.0"
