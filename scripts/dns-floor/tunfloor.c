// A zero-work DNS responder behind a TUN device: the floor for "DNS through the TUN's virtual IP" CPU per query on
// this machine (BENCHMARKS.md). Hand-written measurement tool, not part of the gateway. It opens the TUN the harness
// names (IFF_TUN | IFF_NO_PI), has `ip` give it its address, then loops: read(2) one packet, and when it is an IPv4
// UDP datagram to the virtual ip:port, write(2) back the reply dnsfloor.c gives (the query with QR/RA set and one A
// record) with addresses and ports swapped, the IP checksum recomputed and no UDP checksum (allowed for IPv4).
// Everything else is dropped. One packet per syscall each way: that is all Linux 6.1's TUN offers for UDP.
// With a fifth argument "uring" it does the same through io_uring (liburing): 64 reads kept queued on the device,
// the replies of each batch of completions submitted as writes with one io_uring_enter, to measure what batching the
// TUN's syscalls would save.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <liburing.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "answer.h"


static uint16_t ip_checksum(const unsigned char *h, int len) {
    uint32_t sum = 0;
    for (int i = 0; i < len; i += 2) sum += (uint32_t)(h[i] << 8 | h[i + 1]);
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

static struct in_addr vip;
static uint16_t port;

// Turns the query in pkt (n bytes) into its reply in place; returns the reply's length, or -1 to drop it.
static int reply(unsigned char *pkt, int n, int cap) {
    if (n < 28 || (pkt[0] >> 4) != 4 || pkt[9] != 17) return -1;
    int ihl = (pkt[0] & 0x0f) * 4;
    if (ihl != 20 || memcmp(pkt + 16, &vip, 4) != 0 || memcmp(pkt + 22, &port, 2) != 0) return -1;
    int m = answer(pkt + 28, n - 28, cap - 28);
    if (m < 0) return -1;
    unsigned char t[4];
    memcpy(t, pkt + 12, 4); memcpy(pkt + 12, pkt + 16, 4); memcpy(pkt + 16, t, 4);      // addresses
    memcpy(t, pkt + 20, 2); memcpy(pkt + 20, pkt + 22, 2); memcpy(pkt + 22, t, 2);      // ports
    int total = 28 + m;
    pkt[2] = total >> 8; pkt[3] = total & 0xff;
    pkt[8] = 64; pkt[10] = pkt[11] = 0;
    uint16_t c = ip_checksum(pkt, 20);
    pkt[10] = c >> 8; pkt[11] = c & 0xff;
    pkt[24] = (m + 8) >> 8; pkt[25] = (m + 8) & 0xff;
    pkt[26] = pkt[27] = 0;                                                           // no UDP checksum
    return total;
}

#define RING_BUFS 64
#define BUF_SIZE 2048
#define WRITE_FLAG (1ULL << 32)

static void uring_loop(int fd) {
    struct io_uring ring;
    if (io_uring_queue_init(2 * RING_BUFS, &ring, 0) < 0) { perror("io_uring_queue_init"); exit(1); }
    static unsigned char bufs[RING_BUFS][BUF_SIZE];
    for (int i = 0; i < RING_BUFS; i++) {
        struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
        io_uring_prep_read(sqe, fd, bufs[i], BUF_SIZE, 0);
        io_uring_sqe_set_data64(sqe, (uint64_t)i);
    }
    io_uring_submit(&ring);
    for (;;) {
        struct io_uring_cqe *cqe;
        if (io_uring_wait_cqe(&ring, &cqe) < 0) continue;
        unsigned head, seen = 0;
        io_uring_for_each_cqe(&ring, head, cqe) {
            seen++;
            uint64_t data = io_uring_cqe_get_data64(cqe);
            int i = (int)(data & 0xffffffff);
            int m = (data & WRITE_FLAG) ? -1 : (cqe->res > 0 ? reply(bufs[i], cqe->res, BUF_SIZE) : -1);
            struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
            if (m > 0) {
                io_uring_prep_write(sqe, fd, bufs[i], (unsigned)m, 0);
                io_uring_sqe_set_data64(sqe, (uint64_t)i | WRITE_FLAG);
            } else {
                io_uring_prep_read(sqe, fd, bufs[i], BUF_SIZE, 0);   // a write done, or nothing to answer: read again
                io_uring_sqe_set_data64(sqe, (uint64_t)i);
            }
        }
        io_uring_cq_advance(&ring, seen);
        io_uring_submit(&ring);
    }
}

int main(int argc, char **argv) {
    if (argc != 5 && argc != 6) { fprintf(stderr, "usage: tunfloor TUN_NAME TUN_ADDR/PREFIX VIRTUAL_IP PORT [uring]\n"); return 2; }
    int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
    if (fd < 0) { perror("/dev/net/tun"); return 1; }
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
    strncpy(ifr.ifr_name, argv[1], IFNAMSIZ - 1);
    if (ioctl(fd, TUNSETIFF, &ifr) < 0) { perror("TUNSETIFF"); return 1; }
    char cmd[256];
    snprintf(cmd, sizeof cmd, "ip addr add %s dev %s && ip link set %s up", argv[2], argv[1], argv[1]);
    if (system(cmd) != 0) { fprintf(stderr, "%s failed\n", cmd); return 1; }
    if (inet_pton(AF_INET, argv[3], &vip) != 1) { fprintf(stderr, "bad virtual ip\n"); return 2; }
    port = htons((uint16_t)atoi(argv[4]));
    if (argc == 6 && strcmp(argv[5], "uring") == 0) {
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);   // io_uring then polls instead of blocking a worker
        uring_loop(fd);
    }
    static unsigned char pkt[65536];
    for (;;) {
        ssize_t n = read(fd, pkt, sizeof pkt);
        int total = n > 0 ? reply(pkt, (int)n, (int)sizeof pkt) : -1;
        if (total > 0 && write(fd, pkt, total) != total) perror("write");
    }
}
