"""sai3bench: storage benchmark that runs sai3-bench YAML configs unchanged."""

__version__ = "0.1.0"
