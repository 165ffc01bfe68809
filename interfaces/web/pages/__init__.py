"""The console's pages, one module per area; each is a thin handler over the use cases."""
