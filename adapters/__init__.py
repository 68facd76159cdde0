"""Implementations of the application's ports. Only ``entrypoints`` imports from here."""
