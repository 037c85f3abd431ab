"""Many WebSocket clients (Python `websockets`) for wscope --listen tests.

    python_clients.py URL parallel N [--messages K] [--size BYTES] [--hold SECONDS]
    python_clients.py URL sequential N
    python_clients.py URL limit N
    python_clients.py URL receive N [--count K]

parallel:   N clients connect and wait until all are open; each then sends K
            messages (text of BYTES bytes, binary when BYTES > 1000), checks
            that each comes back unchanged, holds the connection SECONDS,
            and closes with 1000.
sequential: N clients one after another, each sends one message, checks its
            echo and closes.
limit:      N clients connect and stay; then one more tries: its answer's
            status is printed; then all close.
receive:    N clients connect and each counts the binary messages it gets
            until K have come, then closes.

Prints `OPEN i` as each client opens, one `ECHOED i` (or `RECEIVED i K`) per
client that got everything back, `STATUS s` for limit, `ERROR i reason` for
anything else, then `DONE`.
"""

import asyncio
import sys

from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

LIMIT = 30  # seconds any client may take for its whole exchange


def say(*words):
    print(*words, flush=True)


def option(name, default):
    args = sys.argv
    return type(default)(args[args.index(name) + 1]) if name in args else default


async def client(url, i, messages, size, hold, opened, everyone):
    try:
        async with connect(f"{url}c{i}", compression=None, max_size=None) as ws:
            say("OPEN", i)
            opened.append(i)
            await everyone.wait()
            for k in range(messages):
                if size > 1000:
                    data = bytes([(i + k) % 256]) * size
                else:
                    data = f"client {i} message {k} ".ljust(size, ".")
                await ws.send(data)
                back = await ws.recv()
                if back != data:
                    say("ERROR", i, f"message {k} came back changed")
                    return
            await asyncio.sleep(hold)
            await ws.close(1000, "done")
        say("ECHOED", i)
    except Exception as e:  # noqa: BLE001 - every failure is reported
        say("ERROR", i, repr(e))


async def parallel(url, n):
    messages, size, hold = option("--messages", 3), option("--size", 20), option("--hold", 0.0)
    opened, everyone = [], asyncio.Event()

    async def release():
        while len(opened) < n:
            await asyncio.sleep(0.01)
        everyone.set()

    waiter = asyncio.ensure_future(release())
    await asyncio.wait_for(
        asyncio.gather(
            *(client(url, i, messages, size, hold, opened, everyone) for i in range(n))
        ),
        LIMIT,
    )
    waiter.cancel()


async def sequential(url, n):
    for i in range(n):
        done = asyncio.Event()
        done.set()
        await asyncio.wait_for(client(url, i, 1, 20, 0.0, [], done), LIMIT)


async def limit(url, n):
    held = []
    for i in range(n):
        ws = await connect(f"{url}held{i}", compression=None)
        say("OPEN", i)
        held.append(ws)
    try:
        async with connect(f"{url}one-more", compression=None):
            say("STATUS", 101)
    except InvalidStatus as e:
        say("STATUS", e.response.status_code)
    for ws in held:
        await ws.close(1000, "done")


async def receive(url, n):
    count = option("--count", 1)

    async def one(i):
        try:
            async with connect(f"{url}r{i}", compression=None, max_size=None) as ws:
                say("OPEN", i)
                got = 0
                while got < count:
                    if isinstance(await ws.recv(), bytes):
                        got += 1
                say("RECEIVED", i, got)
                await ws.close(1000, "done")
        except Exception as e:  # noqa: BLE001
            say("ERROR", i, repr(e))

    await asyncio.wait_for(asyncio.gather(*(one(i) for i in range(n))), LIMIT * 2)


def main():
    url, mode, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    run = {"parallel": parallel, "sequential": sequential, "limit": limit, "receive": receive}
    try:
        asyncio.run(run[mode](url, n))
    except Exception as e:  # noqa: BLE001
        say("ERROR", "-", repr(e))
    say("DONE")


if __name__ == "__main__":
    main()
