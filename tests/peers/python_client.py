"""A WebSocket client (Python `websockets`) for wscope's --listen tests.

    python_client.py URL [--no-deflate] MESSAGE...

Connects (offering permessage-deflate, the library's default, unless
--no-deflate), sends each MESSAGE as text, prints `OPEN <extensions>` and
then every message it receives on its own line, and closes with 1000 once
it has as many as it sent.
"""

import sys

from websockets.sync.client import connect


def main():
    args = sys.argv[1:]
    url, messages = args[0], [a for a in args[1:] if a != "--no-deflate"]
    compression = None if "--no-deflate" in args else "deflate"
    with connect(url, compression=compression) as ws:
        extensions = ws.response.headers.get("Sec-WebSocket-Extensions", "-")
        print(f"OPEN {extensions}", flush=True)
        for message in messages:
            ws.send(message)
        for _ in messages:
            print(ws.recv(), flush=True)
        ws.close(1000, "done")
    print("CLOSED", flush=True)


if __name__ == "__main__":
    main()
