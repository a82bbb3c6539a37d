// The one answer both zero-work responders give (dnsfloor.c on a socket, tunfloor.c behind a TUN): the query with
// QR/RA set and one A record (198.18.0.1) after the question, nothing else parsed. Measurement tools, not the gateway.
#pragma once
#include <string.h>

static int answer(unsigned char *q, int n, int cap) {
    if (n < 12) return -1;
    int p = 12;
    while (p < n && q[p] != 0) p += q[p] + 1;
    p += 5;                                   // root label + type + class
    if (p > n || p + 16 > cap) return -1;
    q[2] |= 0x80; q[3] |= 0x80;               // QR, RA
    q[6] = 0; q[7] = 1; q[8] = q[9] = q[10] = q[11] = 0;  // ANCOUNT 1, no NS/AR (drops EDNS)
    unsigned char rr[16] = {0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 198, 18, 0, 1};
    memcpy(q + p, rr, 16);
    return p + 16;
}
