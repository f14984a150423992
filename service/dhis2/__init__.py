"""DHIS2: the client that posts a term's figures, and a local stand-in for an instance."""
