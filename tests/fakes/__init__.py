"""Test doubles (fakes, not mocks) for the ports."""
