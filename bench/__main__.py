"""`python -m bench`: run every benchmark in turn."""

import asyncio

from bench import roster_import

if __name__ == "__main__":
    asyncio.run(roster_import.main())
