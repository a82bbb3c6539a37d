#!/usr/bin/python3
"""Writes DNS messages with dnspython (Debian python3-dnspython) into a corpus folder: the shapes kdig and
unbound do not send on their own (RFC 1035 §4.1.4 compression everywhere, RFC 2308 negative answers, TC,
DNSSEC records, several questions, other opcodes, EDNS options)."""
import os
import sys

import dns.edns
import dns.flags
import dns.message
import dns.opcode
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset

out = sys.argv[1]
os.makedirs(out, exist_ok=True)


def write(name, message, **kwargs):
    open(os.path.join(out, f'dnspython-{name}'), 'wb').write(message.to_wire(**kwargs))


q = dns.message.make_query('www.example.test.', 'A', use_edns=0, want_dnssec=True,
                           options=[dns.edns.ECSOption('192.0.2.0', 24), dns.edns.GenericOption(10, b'\x01' * 8)])
q.id = 0x1234
write('query-ecs-cookie', q)

r = dns.message.make_response(q)
r.answer.append(dns.rrset.from_text('www.example.test.', 300, 'IN', 'CNAME', 'web.example.test.'))
r.answer.append(dns.rrset.from_text('web.example.test.', 60, 'IN', 'A', '192.0.2.80', '192.0.2.81'))
r.authority.append(dns.rrset.from_text('example.test.', 300, 'IN', 'NS', 'ns1.example.test.', 'ns2.example.test.'))
r.additional.append(dns.rrset.from_text('ns1.example.test.', 300, 'IN', 'A', '192.0.2.53'))
r.additional.append(dns.rrset.from_text('ns1.example.test.', 300, 'IN', 'AAAA', '2001:db8::53'))
write('response-cname-compressed', r)

nx = dns.message.make_response(dns.message.make_query('missing.example.test.', 'AAAA', use_edns=0))
nx.set_rcode(dns.rcode.NXDOMAIN)
nx.authority.append(dns.rrset.from_text('example.test.', 3600, 'IN', 'SOA', 'ns1.example.test. admin.example.test. 2026120101 7200 900 1209600 300'))
nx.authority.append(dns.rrset.from_text('example.test.', 300, 'IN', 'NSEC', 'zzz.example.test. A NS SOA RRSIG NSEC'))
nx.authority.append(dns.rrset.from_text('example.test.', 300, 'IN', 'RRSIG',
                                        'NSEC 13 2 300 20261231000000 20261201000000 12345 example.test. '
                                        'b3JpZ2luYWwgc2lnbmF0dXJlIGJ5dGVzIGZvciB0ZXN0aW5nIG9ubHkgMDEyMzQ1Njc4OQ=='))
write('response-nxdomain-soa-nsec', nx)

nodata = dns.message.make_response(dns.message.make_query('www.example.test.', 'MX'))
nodata.authority.append(dns.rrset.from_text('example.test.', 60, 'IN', 'SOA', 'ns1.example.test. admin.example.test. 1 7200 900 1209600 30'))
write('response-nodata', nodata)

tc = dns.message.make_response(dns.message.make_query('big.example.test.', 'TXT'))
tc.flags |= dns.flags.TC
write('response-truncated', tc)

sf = dns.message.make_response(dns.message.make_query('www.example.test.', 'A', use_edns=0))
sf.set_rcode(dns.rcode.SERVFAIL)
sf.use_edns(0, 0, 1232, options=[dns.edns.GenericOption(11, b'\x00\x64'), dns.edns.GenericOption(15, b'\x00\x16')])
write('response-servfail-keepalive-ede', sf)

bad = dns.message.make_response(dns.message.make_query('www.example.test.', 'A', use_edns=0))
bad.use_edns(0, 0, 1232)
bad.set_rcode(dns.rcode.BADVERS)
write('response-badvers', bad)

multi = dns.message.make_query('a.example.test.', 'A')
multi.question.append(dns.rrset.RRset(dns.name.from_text('b.example.test.'), dns.rdataclass.IN, dns.rdatatype.AAAA))
write('query-two-questions', multi)

notify = dns.message.make_query('example.test.', 'SOA')
notify.set_opcode(dns.opcode.NOTIFY)
write('query-notify', notify)

any_q = dns.message.make_query('example.test.', 'ANY', use_edns=0, payload=4096,
                               options=[dns.edns.GenericOption(12, b'\x00' * 40), dns.edns.GenericOption(11, b'')])
write('query-any-padding-keepalive', any_q)

srv = dns.message.make_response(dns.message.make_query('_sip._udp.example.test.', 'SRV'))
srv.answer.append(dns.rrset.from_text('_sip._udp.example.test.', 300, 'IN', 'SRV', '10 60 5060 sip.example.test.', '20 10 5061 sip2.example.test.'))
srv.additional.append(dns.rrset.from_text('sip.example.test.', 300, 'IN', 'A', '192.0.2.60'))
write('response-srv', srv)
print(f'{out}: dnspython seeds written')
