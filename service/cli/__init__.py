"""The `copline` command line: operators' and developers' entry point."""
