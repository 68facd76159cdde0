"""User strategies: files in the strategies directory, ``path.py:Class`` and TOML compositions."""
