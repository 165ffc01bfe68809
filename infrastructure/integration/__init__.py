"""Storage and delivery for the integration: feed keys, webhooks, notifications."""
