"""The senders of scripts/bench-crash-redeliveries: 8 synchronous MLLP
connections, each owning the patients p with p % 8 == its number, send
ADT^A08 messages with MSH-10 = P<patient>-<sequence>, every patient's in
order. A message is sent again, on a new connection, until it is answered
(the engine may be killed mid-message): a sender resends what was not
acknowledged, as a real interface does. Prints what was sent, the answers
that were not AA for the right control id, and the resends.

Usage: sender.py PORT PATIENTS PER_PATIENT
"""
import socket, sys, threading, time
port = int(sys.argv[1]); patients = int(sys.argv[2]); per = int(sys.argv[3])
bad = []; resets = 0
def run(n):
    s = None
    global resets
    mine = [p for p in range(patients) if p % 8 == n]
    order = [(p, k) for k in range(per) for p in mine]
    for p, k in order:
        cid = "P%d-%d" % (p, k)
        msg = ("MSH|^~\\&|SND|FAC|RCV|FAC|20260101120000||ADT^A08^ADT_A01|%s|P|2.5.1\r"
               "EVN|A08|20260101120000\rPID|1||MRN%d^^^FAC^MR||DOE^JOHN||19800101|M\rPV1|1|I|WARD\r") % (cid, p)
        while True:
            try:
                if s is None:
                    s = socket.create_connection(("127.0.0.1", port))
                s.sendall(b"\x0b" + msg.encode() + b"\x1c\r")
                buf = b""
                while b"\x1c\r" not in buf:
                    d = s.recv(4096)
                    if not d: raise ConnectionResetError("closed")
                    buf += d
                break
            except OSError:
                resets += 1; s = None; time.sleep(0.05)
        if b"MSA|AA|" + cid.encode() not in buf: bad.append((cid, buf))
ts = [threading.Thread(target=run, args=(n,)) for n in range(8)]
t0 = time.time(); [t.start() for t in ts]; [t.join() for t in ts]
print("sent", patients * per, "in %.1f s" % (time.time() - t0), "bad", len(bad), bad[:3], "resends", resets)
