"""The receiving system of scripts/bench-crash-redeliveries: an MLLP
listener that answers AA at once and appends the MSH-10 of every message
it receives (P<patient>-<sequence>) to a file, one line each.

Usage: sink.py PORT FILE
"""
import socket, threading, sys
port = int(sys.argv[1]); log = open(sys.argv[2], "a", buffering=1)
def serve(c):
    buf = b""
    while True:
        d = c.recv(65536)
        if not d: return
        buf += d
        while b"\x1c\r" in buf:
            frame, buf = buf.split(b"\x1c\r", 1)
            msg = frame.split(b"\x0b", 1)[1].decode("latin-1")
            msh = msg.split("\r")[0].split("|")
            log.write(msh[9] + "\n")
            ack = "MSH|^~\\&|SINK|X|A|B|20260101||ACK|A%s|P|2.5.1\rMSA|AA|%s\r" % (msh[9], msh[9])
            c.sendall(b"\x0b" + ack.encode() + b"\x1c\r")
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("127.0.0.1", port)); s.listen(64)
while True:
    c, _ = s.accept(); threading.Thread(target=serve, args=(c,), daemon=True).start()
