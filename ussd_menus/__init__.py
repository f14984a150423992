"""The USSD application: an engine, typed screens and per-language text catalogs.

Screens are pure functions of (caller context, inputs); the HTTP view only parses
Africa's Talking's form and adds the CON/END prefix. Built in issue #4.
"""
