"""The trading domain: pure Python and numpy. No I/O, no clock reads, no frameworks."""
