"""A client harness in the form client libraries point at the Autobahn
suite's fuzzingserver (Python `websockets` here):

    python_fuzz_client.py ws://HOST:PORT [AGENT]

asks /getCaseCount, runs /runCase?case=N&agent=AGENT for each case,
echoing every message, then calls /updateReports?agent=AGENT.
"""

import sys

from websockets.exceptions import WebSocketException
from websockets.sync.client import connect


def main():
    base = sys.argv[1]
    agent = sys.argv[2] if len(sys.argv) > 2 else "websockets"
    with connect(f"{base}/getCaseCount") as ws:
        count = int(ws.recv())
    for n in range(1, count + 1):
        try:
            with connect(
                f"{base}/runCase?case={n}&agent={agent}",
                max_size=2**25,
                compression=None,
            ) as ws:
                for message in ws:
                    ws.send(message)
        except (WebSocketException, OSError):
            pass
    with connect(f"{base}/updateReports?agent={agent}") as ws:
        try:
            ws.recv()
        except WebSocketException:
            pass


if __name__ == "__main__":
    main()
