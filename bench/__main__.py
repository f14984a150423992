"""`python -m bench`: run every benchmark in turn."""

import asyncio

from bench import graphql_dashboard, roster_import


async def main() -> None:
    await roster_import.main()
    print()
    await graphql_dashboard.main()


if __name__ == "__main__":
    asyncio.run(main())
