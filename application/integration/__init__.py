"""What leaves the service for other systems: the event feed, webhooks and reminders."""
