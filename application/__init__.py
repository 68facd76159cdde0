"""Use cases and the ports they need. Talks to the world only through ``application.ports``."""
