"""The SMS channel: gateway adapter for the africastalking SDK, encoding and cost,
inbound keywords and per-language templates. Built in issue #5.
"""
