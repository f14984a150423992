"""copline: Communities of Practice for teachers on any phone.

`service` is the core: settings, storage, the domain, the app factory and the CLI.
Nothing is built at import time; `service.app.create_app(settings)` composes.
"""
