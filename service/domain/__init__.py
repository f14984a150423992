"""Use cases: plain async functions that take the session as a keyword argument.

Use cases flush but never commit: whoever opened the unit of work (an API request,
a USSD hop, a CLI command, an import) commits once, so several use cases compose
into one all-or-nothing change. Business rules live here, not in the channels.
"""
