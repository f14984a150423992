"""`python -m bench`: run every benchmark in turn (the load tests need `wrk`)."""

import asyncio
import shutil

from bench import graphql_dashboard, reports, roster_import, sms_fanout, ussd_load


async def main() -> None:
    await roster_import.main()
    print()
    await graphql_dashboard.main()
    print()
    await reports.main()


if __name__ == "__main__":
    asyncio.run(main())
    if shutil.which("wrk") is None:
        print("\nbench/sms_fanout.py and bench/ussd_load.py need wrk: apt-get install wrk")
    else:
        print()
        sms_fanout.main()
        print()
        asyncio.run(ussd_load.main())
