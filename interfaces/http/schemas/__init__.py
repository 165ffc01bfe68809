"""Request and response models of the HTTP API; they live here, not in the domain."""
