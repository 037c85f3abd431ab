"""Echo WebSocket server for wscope's end-to-end tests.

Binds 127.0.0.1 on a free port, optionally with TLS and permessage-deflate
(--deflate, the library's defaults), echoes every message back (after
--think seconds; --greet TEXT sends TEXT first), prints ``PORT <n>`` once listening, and exits when stdin
closes. With --unix PATH it listens on a Unix socket there instead
(``PORT 0``).
"""

import argparse
import ssl
import sys
import threading
import time

from websockets.sync.server import serve, unix_serve


def echo(connection):
    for message in connection:
        connection.send(message)


def thinking(seconds, greeting):
    """Echoes after a pause: a server that works on each answer (and may
    greet first)."""

    def handler(connection):
        if greeting:
            connection.send(greeting)
        for message in connection:
            time.sleep(seconds)
            connection.send(message)

    return handler


def shout(connection):
    """Echoes text in capitals: a server that answers differently."""
    for message in connection:
        connection.send(message.upper() if isinstance(message, str) else message)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--certfile")
    parser.add_argument("--keyfile")
    parser.add_argument(
        "--deflate",
        action="store_true",
        help="accept permessage-deflate with the library's default settings",
    )
    parser.add_argument(
        "--shout", action="store_true", help="echo text in capitals instead"
    )
    parser.add_argument("--unix", help="listen on a Unix socket at this path")
    parser.add_argument(
        "--think", type=float, help="wait this many seconds before each echo"
    )
    parser.add_argument("--greet", help="send this message when a client connects")
    args = parser.parse_args()

    context = None
    if args.certfile:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(args.certfile, args.keyfile)

    compression = "deflate" if args.deflate else None
    handler = shout if args.shout else echo
    if args.think or args.greet:
        handler = thinking(args.think or 0, args.greet)
    if args.unix:
        listening = unix_serve(handler, args.unix, ssl=context, compression=compression)
    else:
        listening = serve(handler, "127.0.0.1", 0, ssl=context, compression=compression)
    with listening as server:
        port = 0 if args.unix else server.socket.getsockname()[1]
        print(f"PORT {port}", flush=True)

        def watch_stdin():
            sys.stdin.read()
            server.shutdown()

        threading.Thread(target=watch_stdin, daemon=True).start()
        server.serve_forever()


if __name__ == "__main__":
    main()
