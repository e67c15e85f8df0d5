#!/usr/bin/env python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""chat - conversations of messages of random sizes through a proxy (the tests' tool).

  chat.py server PORT                 echo every byte back as it arrives, on any
                                      number of connections (a thread each)
  chat.py client ADDR PORT [--conns N] [--parallel P] [--exchanges E] [--max B] [--seed S]
                           [--bulk-at K --bulk L [--bulk-pause-ms P]] [--linger-ms T]
                                      N connections, P at a time; on each, E messages of
                                      1..B random bytes, each sent by a writer thread while
                                      the echo is read back and compared; message K (from 1)
                                      is L bytes instead, its echo read 256 KiB at a time
                                      P ms apart (a slow reader); each connection stays open T ms
                                      after its last echo. Prints "conns=N ok=K bad=M
                                      bytes=T"; exits 0 when all are ok.

A proxy sees such a connection change direction at every chunk, so data-path auto moves
it to the kernel path in the middle of a message, with bytes queued on both sides.
"""
import random
import socket
import sys
import threading
import time


def serve_one(conn):
    with conn:
        while True:
            data = conn.recv(65536)
            if not data:
                break
            conn.sendall(data)


def server(port):
    s = socket.socket(socket.AF_INET)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", port))
    s.listen(128)
    while True:
        conn, _ = s.accept()
        threading.Thread(target=serve_one, args=(conn,), daemon=True).start()


def one_conn(addr, port, exchanges, most, rng, bulk_at=0, bulk=0, linger_ms=0, pause_ms=0):
    total = 0
    with socket.create_connection((addr, port), timeout=20) as s:
        for k in range(1, exchanges + 1):
            msg = rng.randbytes(bulk if k == bulk_at else rng.randint(1, most))
            writer = threading.Thread(target=s.sendall, args=(msg,))
            writer.start()
            got = bytearray()
            while len(got) < len(msg):
                if k == bulk_at and pause_ms:
                    time.sleep(pause_ms / 1000)
                part = s.recv(min(262144, len(msg) - len(got)))
                if not part:
                    break
                got += part
            writer.join()
            if bytes(got) != msg:
                return False, total
            total += len(msg)
        time.sleep(linger_ms / 1000)
    return True, total


def client(addr, port, conns, parallel, exchanges, most, seed, bulk_at=0, bulk=0, linger_ms=0,
           pause_ms=0):
    results = []
    lock = threading.Lock()
    todo = list(range(conns))

    def worker():
        while True:
            with lock:
                if not todo:
                    return
                k = todo.pop()
            try:
                ok, n = one_conn(addr, port, exchanges, most, random.Random(seed * 100003 + k),
                                 bulk_at, bulk, linger_ms, pause_ms)
            except OSError:
                ok, n = False, 0
            with lock:
                results.append((ok, n))

    threads = [threading.Thread(target=worker) for _ in range(parallel)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ok = sum(1 for r in results if r[0])
    print(f"conns={conns} ok={ok} bad={conns - ok} bytes={sum(r[1] for r in results)}")
    return 0 if ok == conns else 1


def main(argv):
    if len(argv) == 3 and argv[1] == "server":
        server(int(argv[2]))
        return 0
    if len(argv) >= 4 and argv[1] == "client":
        opts = {"--conns": 10, "--parallel": 4, "--exchanges": 20, "--max": 200000, "--seed": 1,
                "--bulk-at": 0, "--bulk": 0, "--bulk-pause-ms": 0, "--linger-ms": 0}
        rest = argv[4:]
        for k in range(0, len(rest) - 1, 2):
            if rest[k] not in opts:
                break
            opts[rest[k]] = int(rest[k + 1])
        else:
            if len(rest) % 2 == 0:
                return client(argv[2], int(argv[3]), opts["--conns"], opts["--parallel"],
                              opts["--exchanges"], opts["--max"], opts["--seed"],
                              opts["--bulk-at"], opts["--bulk"], opts["--linger-ms"],
                              opts["--bulk-pause-ms"])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
