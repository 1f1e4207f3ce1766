"""Checks what the sink of scripts/bench-crash-redeliveries received:
how many deliveries, how many of them repeat an earlier one, how many
messages never arrived, and for how many patients the first deliveries
were out of order.

Usage: check.py SINK_FILE PATIENTS PER_PATIENT
"""
import sys, collections
seen = collections.defaultdict(list); n = 0
for line in open(sys.argv[1]):
    cid = line.strip(); p, k = cid[1:].split("-"); seen[int(p)].append(int(k)); n += 1
out_of_order = 0; dups = 0; missing = 0
per = int(sys.argv[3])
for p in range(int(sys.argv[2])):
    ks = seen.get(p, [])
    # Order: each message's first delivery comes after its predecessor's.
    firsts = []; s = set()
    for k in ks:
        if k in s: dups += 1; continue
        s.add(k); firsts.append(k)
    if firsts != sorted(firsts): out_of_order += 1
    missing += per - len(s)
print("delivered", n, "duplicates", dups, "missing", missing, "patients out of order", out_of_order)
