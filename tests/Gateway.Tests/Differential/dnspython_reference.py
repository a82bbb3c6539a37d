#!/usr/bin/python3
"""The dnspython side of DnsDifferentialTests: reads one hex-encoded DNS message per line on stdin and prints one
JSON line per message: what dnspython (Debian python3-dnspython) makes of it, or why it refuses it."""
import json
import sys

import dns.exception
import dns.message
import dns.rdatatype

SECTIONS = ('answer', 'authority', 'additional')

for line in sys.stdin:
    data = bytes.fromhex(line.strip())
    try:
        # One record per RRset keeps the wire order; trailing bytes are an error, as dnspython does by default.
        m = dns.message.from_wire(data, one_rr_per_rrset=True)
    except Exception as e:  # every refusal, whatever its class, is "does not accept"
        print(json.dumps({'ok': False, 'error': f'{type(e).__name__}: {e}'}))
        continue
    records = []
    for index, section in enumerate(SECTIONS):
        for rrset in getattr(m, section):
            for rd in rrset:
                records.append([index, rrset.name.to_wire().hex(), int(rrset.rdtype), int(rrset.rdclass), rrset.ttl,
                                rd.to_wire().hex() if rrset.rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA) else ''])
    print(json.dumps({
        'ok': True,
        'id': m.id,
        'flags': m.flags,
        'opcode': int(m.opcode()),
        'rcode': int(m.rcode()),
        'questions': [[q.name.to_wire().hex(), int(q.rdtype), int(q.rdclass)] for q in m.question],
        'records': records,
        'edns': m.edns,
        'payload': m.payload if m.edns >= 0 else 0,
        'do': bool(m.ednsflags & 0x8000),
        'options': [[int(o.otype), o.to_wire().hex()] for o in m.options],
    }))
    sys.stdout.flush()
