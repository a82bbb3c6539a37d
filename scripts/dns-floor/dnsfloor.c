// A zero-work DNS responder: the floor for "cache hit" CPU per query on this machine (BENCHMARKS.md). Hand-written
// measurement tool, not part of the gateway. UDP: recvmmsg/sendmmsg batches of up to 64, each reply = the query with
// QR/RA set and one A record (198.18.0.1) after the question, nothing else parsed. TCP (the harness checks it): the same.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "answer.h"

#define BATCH 64
static struct sockaddr_in listen_addr;


static void *tcp_loop(void *arg) {
    (void)arg;
    int s = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(s, (struct sockaddr *)&listen_addr, sizeof listen_addr) || listen(s, 16)) { perror("tcp"); exit(1); }
    for (;;) {
        int c = accept(s, NULL, NULL);
        if (c < 0) continue;
        unsigned char buf[4096];
        for (;;) {
            unsigned char len[2];
            if (recv(c, len, 2, MSG_WAITALL) != 2) break;
            int n = len[0] << 8 | len[1];
            if (n > 4000 || recv(c, buf + 2, n, MSG_WAITALL) != n) break;
            int m = answer(buf + 2, n, 4000);
            if (m < 0) break;
            buf[0] = m >> 8; buf[1] = m & 0xff;
            if (send(c, buf, m + 2, 0) != m + 2) break;
        }
        close(c);
    }
    return NULL;
}

int main(int argc, char **argv) {
    if (argc != 3) { fprintf(stderr, "usage: dnsfloor ADDR PORT\n"); return 2; }
    listen_addr.sin_family = AF_INET;
    listen_addr.sin_port = htons(atoi(argv[2]));
    inet_pton(AF_INET, argv[1], &listen_addr.sin_addr);
    int u = socket(AF_INET, SOCK_DGRAM, 0);
    if (bind(u, (struct sockaddr *)&listen_addr, sizeof listen_addr)) { perror("udp"); return 1; }
    pthread_t t;
    pthread_create(&t, NULL, tcp_loop, NULL);
    static unsigned char bufs[BATCH][1500];
    static struct sockaddr_in from[BATCH];
    static struct iovec iov[BATCH], out_iov[BATCH];
    static struct mmsghdr in[BATCH], out[BATCH];
    for (;;) {
        for (int i = 0; i < BATCH; i++) {
            iov[i].iov_base = bufs[i]; iov[i].iov_len = 1400;
            memset(&in[i].msg_hdr, 0, sizeof in[i].msg_hdr);
            in[i].msg_hdr.msg_iov = &iov[i]; in[i].msg_hdr.msg_iovlen = 1;
            in[i].msg_hdr.msg_name = &from[i]; in[i].msg_hdr.msg_namelen = sizeof from[i];
        }
        int n = recvmmsg(u, in, BATCH, MSG_WAITFORONE, NULL);
        if (n <= 0) continue;
        int k = 0;
        for (int i = 0; i < n; i++) {
            int m = answer(bufs[i], in[i].msg_len, 1500);
            if (m < 0) continue;
            out_iov[k].iov_base = bufs[i]; out_iov[k].iov_len = m;
            memset(&out[k].msg_hdr, 0, sizeof out[k].msg_hdr);
            out[k].msg_hdr.msg_iov = &out_iov[k]; out[k].msg_hdr.msg_iovlen = 1;
            out[k].msg_hdr.msg_name = &from[i]; out[k].msg_hdr.msg_namelen = in[i].msg_hdr.msg_namelen;
            k++;
        }
        for (int done = 0; done < k;) {
            int r = sendmmsg(u, out + done, k - done, 0);
            if (r <= 0) break;
            done += r;
        }
    }
}
