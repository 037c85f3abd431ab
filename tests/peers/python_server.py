"""Echo WebSocket server for wscope's end-to-end tests.

Binds 127.0.0.1 on a free port, optionally with TLS, echoes every message
back, prints ``PORT <n>`` once listening, and exits when stdin closes.
"""

import argparse
import ssl
import sys
import threading

from websockets.sync.server import serve


def echo(connection):
    for message in connection:
        connection.send(message)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--certfile")
    parser.add_argument("--keyfile")
    args = parser.parse_args()

    context = None
    if args.certfile:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(args.certfile, args.keyfile)

    with serve(echo, "127.0.0.1", 0, ssl=context, compression=None) as server:
        port = server.socket.getsockname()[1]
        print(f"PORT {port}", flush=True)

        def watch_stdin():
            sys.stdin.read()
            server.shutdown()

        threading.Thread(target=watch_stdin, daemon=True).start()
        server.serve_forever()


if __name__ == "__main__":
    main()
