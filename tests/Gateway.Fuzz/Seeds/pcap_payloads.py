#!/usr/bin/python3
"""Reads a pcap file (tcpdump -w) and prints the payloads it holds, for seeding the fuzz corpora.

Usage: pcap_payloads.py FILE udp|tcp|ip OUTDIR PREFIX
  udp: one file per UDP payload; tcp: one file per direction of each TCP connection (its bytes in order);
  ip: one file per IP packet (the bytes a TUN device reads). Loopback and TUN captures only: no reassembly
  beyond appending in-order segments, no loss handling."""
import os
import struct
import sys


def packets(path):
    with open(path, 'rb') as f:
        data = f.read()
    magic = struct.unpack('<I', data[:4])[0]
    endian = '<' if magic in (0xa1b2c3d4, 0xa1b23c4d) else '>'
    linktype = struct.unpack(endian + 'I', data[20:24])[0]
    offset = 24
    while offset + 16 <= len(data):
        _, _, caplen, _ = struct.unpack(endian + 'IIII', data[offset:offset + 16])
        frame = data[offset + 16:offset + 16 + caplen]
        offset += 16 + caplen
        if linktype == 1:        # Ethernet (lo)
            ethertype = struct.unpack('>H', frame[12:14])[0]
            if ethertype in (0x0800, 0x86dd):
                yield frame[14:]
        elif linktype == 113:    # Linux cooked
            yield frame[16:]
        elif linktype == 276:    # Linux cooked v2
            yield frame[20:]
        elif linktype in (12, 101, 228, 229):  # raw IP (wg0, TUN)
            yield frame


def transport(ip):
    """(protocol, src, dst, transport bytes) of an unfragmented IPv4/IPv6 packet."""
    if ip[0] >> 4 == 4:
        hl = (ip[0] & 15) * 4
        total = struct.unpack('>H', ip[2:4])[0]
        return ip[9], ip[12:16], ip[16:20], ip[hl:total]
    total = 40 + struct.unpack('>H', ip[4:6])[0]
    return ip[6], ip[8:24], ip[24:40], ip[40:total]


def main():
    path, kind, outdir, prefix = sys.argv[1:5]
    os.makedirs(outdir, exist_ok=True)
    count = 0
    streams = {}
    for ip in packets(path):
        if kind == 'ip':
            count += 1
            open(os.path.join(outdir, f'{prefix}-{count:03}'), 'wb').write(ip)
            continue
        proto, src, dst, t = transport(ip)
        if kind == 'udp' and proto == 17:
            count += 1
            open(os.path.join(outdir, f'{prefix}-{count:03}'), 'wb').write(t[8:])
        elif kind == 'tcp' and proto == 6:
            sport, dport = struct.unpack('>HH', t[:4])
            payload = t[(t[12] >> 4) * 4:]
            if payload:
                key = (src, sport, dst, dport)
                streams.setdefault(key, bytearray()).extend(payload)
    for (_, sport, _, dport), data in streams.items():
        count += 1
        open(os.path.join(outdir, f'{prefix}-{count:03}-{sport}-{dport}'), 'wb').write(bytes(data))
    print(f'{path}: {count} {kind} seeds in {outdir}')


if __name__ == '__main__':
    main()
