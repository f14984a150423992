"""GraphQL types: thin wrappers over table rows; relationships resolve through loaders."""
