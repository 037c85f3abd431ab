"""A WebSocket client (Python `websockets`) for wscope's --listen tests.

    python_client.py URL [--no-deflate | --window-bits N] MESSAGE...

Connects (offering permessage-deflate, the library's default, unless
--no-deflate; with --window-bits N, an offer that names
server_max_window_bits=N and client_max_window_bits=N), sends each MESSAGE
as text, prints `OPEN <extensions>` and
then every message it receives on its own line, and closes with 1000 once
it has as many as it sent.
"""

import sys

from websockets.extensions.permessage_deflate import ClientPerMessageDeflateFactory
from websockets.sync.client import connect


def main():
    args = sys.argv[1:]
    url, rest = args[0], args[1:]
    options = {"compression": None if "--no-deflate" in rest else "deflate"}
    if "--window-bits" in rest:
        at = rest.index("--window-bits")
        bits = int(rest[at + 1])
        del rest[at : at + 2]
        options = {
            "compression": None,
            "extensions": [
                ClientPerMessageDeflateFactory(
                    server_max_window_bits=bits, client_max_window_bits=bits
                )
            ],
        }
    messages = [a for a in rest if a != "--no-deflate"]
    with connect(url, **options) as ws:
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
