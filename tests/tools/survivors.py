#!/usr/bin/env python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""survivors.py LISTEN_PORT N HOST:PORT [HOST:PORT...]: live connections
across a daemon's death. Listens on 127.0.0.1:LISTEN_PORT as the echo end,
opens N connections to each HOST:PORT (a proxy's listener, or LISTEN_PORT
itself for a direct pair), and keeps every one streaming: each client sends
512 bytes every 20 ms and checks every echoed byte against what it sent.
Prints 'ready conns=C' once all C client and C echo ends exist and each
client saw an echo. On SIGUSR1 (sent right after the daemon is killed) it
watches for 3 s more, then prints
'ended=E/T max_ms=M hung=H flowing=F/C mismatches=X bytes_after=B':
E of the T sockets (clients and echo ends) saw EOF or an error, the last M
ms after the signal; H neither ended nor moved a byte for the last 1 s; F of
the C clients kept getting echoes after the signal. Exit 0 unless a
mismatch was seen."""
import errno, os, selectors, signal, socket, sys, time

listen_port, n = int(sys.argv[1]), int(sys.argv[2])
targets = [(a.rsplit(":", 1)[0], int(a.rsplit(":", 1)[1])) for a in sys.argv[3:]]
sel = selectors.DefaultSelector()
CHUNK, EVERY = 512, 0.02


class End:
    def __init__(self, sock, client):
        self.sock, self.client = sock, client
        self.sent = bytearray()     # client: every byte sent, for the check
        self.got = 0                # client: echoed bytes checked so far
        self.pending = b""          # echo end: bytes still to write back
        self.ended_at = None
        self.last_move = time.monotonic()
        self.moved_after = 0        # bytes received after the signal
        self.seq = 0


ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.1", listen_port))
ls.listen(1024)
ls.setblocking(False)
sel.register(ls, selectors.EVENT_READ, None)
ends, mismatches, signalled = [], 0, None


def on_signal(signum, frame):
    global signalled
    signalled = time.monotonic()


signal.signal(signal.SIGUSR1, on_signal)


def end(e):
    if e.ended_at is None:
        e.ended_at = time.monotonic()
        try:
            sel.unregister(e.sock)
        except (KeyError, ValueError):
            pass
        e.sock.close()


def on_read(e):
    global mismatches
    try:
        data = e.sock.recv(65536)
    except BlockingIOError:
        return
    except OSError:
        end(e)
        return
    if not data:
        end(e)
        return
    e.last_move = time.monotonic()
    if signalled:
        e.moved_after += len(data)
    if e.client:
        want = bytes(e.sent[e.got:e.got + len(data)])
        if want != data:
            mismatches += 1
        e.got += len(data)
        del e.sent[:e.got]          # keep only what is still to come back
        e.got = 0
    else:
        e.pending += data
        flush(e)


def flush(e):
    try:
        while e.pending:
            k = e.sock.send(e.pending)
            e.pending = e.pending[k:]
    except BlockingIOError:
        pass
    except OSError:
        end(e)


for host, port in targets:
    for _ in range(n):
        s = socket.create_connection((host, port))
        s.setblocking(False)
        c = End(s, True)
        ends.append(c)
        sel.register(s, selectors.EVENT_READ, c)
clients = [e for e in ends if e.client]
next_send = time.monotonic()
said_ready = False
deadline = time.monotonic() + 30
while True:
    now = time.monotonic()
    if signalled and now - signalled > 3:
        break
    if not said_ready and now > deadline:
        print("not ready: %d echo ends, %d clients with an echo" %
              (len(ends) - len(clients), sum(1 for c in clients if c.got or not c.sent)))
        sys.exit(2)
    for key, _ in sel.select(timeout=max(0, next_send - now)):
        if key.data is None:
            try:
                while True:
                    s, _ = ls.accept()
                    s.setblocking(False)
                    e = End(s, False)
                    ends.append(e)
                    sel.register(s, selectors.EVENT_READ, e)
            except BlockingIOError:
                pass
        else:
            on_read(key.data)
    if time.monotonic() >= next_send:
        next_send += EVERY
        for c in clients:
            if c.ended_at is not None:
                continue
            msg = bytes(((c.seq + i) * 7) & 0xff for i in range(CHUNK))
            c.seq += 1
            try:
                c.sock.send(msg)    # small, paced: never blocks for long
                c.sent += msg
            except BlockingIOError:
                pass
            except OSError:
                end(c)
    if not said_ready and len(ends) == 2 * len(clients) and all(c.seq > 5 and len(c.sent) < CHUNK * 5 for c in clients):
        print("ready conns=%d" % len(clients), flush=True)
        said_ready = True

now = time.monotonic()
ended = [e for e in ends if e.ended_at is not None]
max_ms = max(((e.ended_at - signalled) * 1000 for e in ended), default=0)
hung = sum(1 for e in ends if e.ended_at is None and now - e.last_move > 1)
flowing = sum(1 for c in clients if c.ended_at is None and c.moved_after > 0 and now - c.last_move < 1)
after = sum(e.moved_after for e in clients)
print("ended=%d/%d max_ms=%.0f hung=%d flowing=%d/%d mismatches=%d bytes_after=%d" %
      (len(ended), len(ends), max(max_ms, 0), hung, flowing, len(clients), mismatches, after), flush=True)
sys.exit(1 if mismatches else 0)
