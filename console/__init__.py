"""The web console: the fourth face on the domain, for programme staff, school leaders
and facilitators. Server-rendered pages that work without JavaScript."""
