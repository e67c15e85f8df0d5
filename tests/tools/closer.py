#!/usr/bin/env python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""closer.py PORT kill|close|ahead|hold [RCVBUF]: a writer whose reader never reads, then
dies (SIGKILL) or closes, with bytes unread. Prints 'error=NAME ms=N sent=N'
for the writer's first error and how long after the reader went it came
(ms=-1: none within 5 s). With RCVBUF, the reader sets SO_RCVBUF first and
the line is 'ahead=N': what the writer got out before it was held (mode ahead,
or hold, which then stays held 3 s)."""
import errno, os, signal, socket, sys, threading, time

port, mode = int(sys.argv[1]), sys.argv[2]
rcvbuf = int(sys.argv[3]) if len(sys.argv) > 3 else 0
ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
if rcvbuf:
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
ls.bind(("127.0.0.1", port))
ls.listen(1)
ready_r, ready_w = os.pipe()
go_r, go_w = os.pipe()
child = os.fork()
if child == 0:
    c, _ = ls.accept()
    os.write(ready_w, b"x")
    os.read(go_r, 1)            # told to close
    c.close()
    time.sleep(30)
    os._exit(0)
s = socket.create_connection(("127.0.0.1", port))
os.read(ready_r, 1)
state = {"sent": 0, "err": None, "at": 0.0}

def write():
    try:
        while True:
            state["sent"] += s.send(b"q" * 65536)
    except OSError as e:
        state["err"], state["at"] = e, time.monotonic()

t = threading.Thread(target=write, daemon=True)
t.start()
# held: the writer makes no progress for 300 ms
last = -1
while last != state["sent"]:
    last = state["sent"]
    time.sleep(0.3)
if mode in ("ahead", "hold"):
    print(f"ahead={state['sent']}", flush=True)
    if mode == "hold":          # stay held a while, for `sockhop sockets`
        time.sleep(3)
    os.kill(child, signal.SIGKILL)
    sys.exit(0)
gone = time.monotonic()
if mode == "kill":
    os.kill(child, signal.SIGKILL)
else:
    os.write(go_w, b"x")
t.join(5)
os.kill(child, signal.SIGKILL)
e = state["err"]
if e is None:
    print(f"error=none ms=-1 sent={state['sent']}")
else:
    print(f"error={errno.errorcode.get(e.errno, e.errno)} ms={int((state['at'] - gone) * 1000)} "
          f"sent={state['sent']}")
