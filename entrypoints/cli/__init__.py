"""The ``atb`` command line (click)."""
