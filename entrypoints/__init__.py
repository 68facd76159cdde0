"""Ways in: the ``atb`` CLI, (later) the admin web app, and the container that wires adapters to ports."""
