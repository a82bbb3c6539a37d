// A SOCKS5 load generator for scripts/socks-peers.sh (BENCHMARKS.md). Hand-written measurement tool, not part of the
// gateway. One thread, epoll, CONNS connections at once; each connection: TCP connect to the proxy, greeting (no
// authentication), reply, CONNECT to the origin (IPv4 address, ATYP 1), reply, `GET PATH HTTP/1.1` with
// `Connection: close`, read the response until the origin closes, check status 200 and the body length, close, start
// the next one. Steps are not pipelined (each waits for the proxy's reply), as a SOCKS client such as curl does.
// Runs for DURATION seconds, then prints one line:
//   HXRESULT requests errors bytes seconds lat_mean_ms lat_p99_ms
// (requests = complete, checked responses; bytes = every byte received from the proxy, partial responses at the end
// included, so MiB/s holds for long downloads too; latency = TCP connect start to the last byte).
// Usage: socksload PROXY_IP PROXY_PORT ORIGIN_IP ORIGIN_PORT PATH BODY_BYTES CONNS DURATION_S [-v]
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { S_CONNECTING, S_GREETING, S_REPLY, S_RESPONSE };
typedef struct {
    int fd, state, have;          // have: bytes of the current SOCKS reply / response head collected
    unsigned char head[4096];
    long head_len, body;          // response head length (-1 until complete), body bytes so far
    double t0;
} conn_t;

static struct sockaddr_in proxy;
static unsigned char connect_req[10];
static char get_req[512];
static int get_len, verbose;
static long body_bytes;
static long requests, errors;
static unsigned long long bytes;
static float *lat;
static long lat_n, lat_cap;
static int ep;
static char last_error[160];

static double now(void) { struct timespec ts; clock_gettime(CLOCK_MONOTONIC, &ts); return ts.tv_sec + ts.tv_nsec / 1e9; }

static void start(conn_t *c);

static void fail(conn_t *c, const char *why) {
    errors++;
    snprintf(last_error, sizeof last_error, "%s (state %d, errno %d)", why, c->state, errno);
    if (verbose) fprintf(stderr, "error: %s\n", last_error);
    close(c->fd);
    c->fd = -1;
}

static void start(conn_t *c) {
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (c->fd < 0) { perror("socket"); exit(2); }
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    c->state = S_CONNECTING; c->have = 0; c->head_len = -1; c->body = 0; c->t0 = now();
    struct epoll_event ev = { .events = EPOLLOUT, .data.ptr = c };
    if (connect(c->fd, (struct sockaddr *)&proxy, sizeof proxy) < 0 && errno != EINPROGRESS) {
        epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);   // report the error through the event loop
        c->state = -1;
        return;
    }
    epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
}

static int send_all(conn_t *c, const void *p, int n) {
    // small writes on a fresh connection: they fit the socket buffer
    return send(c->fd, p, n, MSG_NOSIGNAL) == n ? 0 : -1;
}

static void done(conn_t *c) {
    const char *ok = "HTTP/1.1 200";
    if (c->head_len < 0 || memcmp(c->head, ok, strlen(ok)) != 0) { fail(c, "response is not 200"); return; }
    if (c->body != body_bytes) { fail(c, "body length differs"); return; }
    requests++;
    if (lat_n == lat_cap) { lat_cap = lat_cap ? lat_cap * 2 : 65536; lat = realloc(lat, lat_cap * sizeof *lat); }
    lat[lat_n++] = (float)((now() - c->t0) * 1000);
    close(c->fd);
    c->fd = -1;
}

static unsigned char buf[1 << 18];

static void event(conn_t *c, unsigned ev) {
    if (c->state == -1) { fail(c, "connect failed"); return; }
    if (c->state == S_CONNECTING) {
        int err = 0; socklen_t l = sizeof err;
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &l);
        if (err) { errno = err; fail(c, "connect to the proxy failed"); return; }
        static const unsigned char greet[3] = {5, 1, 0};
        if (send_all(c, greet, 3)) { fail(c, "send greeting"); return; }
        struct epoll_event e = { .events = EPOLLIN, .data.ptr = c };
        epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &e);
        c->state = S_GREETING;
        return;
    }
    (void)ev;
    if (c->state == S_GREETING || c->state == S_REPLY) {
        int want = c->state == S_GREETING ? 2 : 4;
        if (c->state == S_REPLY && c->have >= 4)
            want = c->head[3] == 1 ? 10 : c->head[3] == 4 ? 22 : c->have >= 5 ? 7 + c->head[4] : 5;
        ssize_t n = recv(c->fd, c->head + c->have, want - c->have, 0);
        if (n <= 0) { if (n < 0 && errno == EAGAIN) return; fail(c, "proxy closed during the SOCKS exchange"); return; }
        c->have += n;
        if (c->state == S_REPLY && c->have >= 4) {
            int full = c->head[3] == 1 ? 10 : c->head[3] == 4 ? 22 : c->have >= 5 ? 7 + c->head[4] : 5;
            if (c->have < full) return;
        } else if (c->have < want) return;
        if (c->state == S_GREETING) {
            if (c->head[0] != 5 || c->head[1] != 0) { fail(c, "greeting refused"); return; }
            if (send_all(c, connect_req, sizeof connect_req)) { fail(c, "send CONNECT"); return; }
            c->state = S_REPLY; c->have = 0;
        } else {
            if (c->head[0] != 5 || c->head[1] != 0) { fail(c, "CONNECT refused"); return; }
            if (send_all(c, get_req, get_len)) { fail(c, "send GET"); return; }
            c->state = S_RESPONSE; c->have = 0;
        }
        return;
    }
    for (;;) {
        ssize_t n = recv(c->fd, buf, sizeof buf, 0);
        if (n < 0) { if (errno == EAGAIN) return; fail(c, "recv response"); return; }
        if (n == 0) { done(c); return; }
        bytes += n;
        if (c->head_len < 0) {
            long take = n < (long)sizeof c->head - c->have ? n : (long)sizeof c->head - c->have;
            memcpy(c->head + c->have, buf, take);
            c->have += take;
            unsigned char *e = memmem(c->head, c->have, "\r\n\r\n", 4);
            if (e) { c->head_len = e + 4 - c->head; c->body = c->have - c->head_len + (n - take); }
            else if (c->have == (int)sizeof c->head) { fail(c, "response head too long"); return; }
        } else c->body += n;
    }
}

static int cmpf(const void *a, const void *b) { float x = *(const float *)a, y = *(const float *)b; return (x > y) - (x < y); }

int main(int argc, char **argv) {
    if (argc < 9) {
        fprintf(stderr, "usage: %s PROXY_IP PROXY_PORT ORIGIN_IP ORIGIN_PORT PATH BODY_BYTES CONNS DURATION_S [-v]\n", argv[0]);
        return 2;
    }
    proxy.sin_family = AF_INET;
    proxy.sin_port = htons(atoi(argv[2]));
    struct in_addr origin;
    if (!inet_aton(argv[1], &proxy.sin_addr) || !inet_aton(argv[3], &origin)) { fprintf(stderr, "bad address\n"); return 2; }
    int oport = atoi(argv[4]);
    connect_req[0] = 5; connect_req[1] = 1; connect_req[2] = 0; connect_req[3] = 1;
    memcpy(connect_req + 4, &origin, 4);
    connect_req[8] = oport >> 8; connect_req[9] = oport & 255;
    get_len = snprintf(get_req, sizeof get_req, "GET %s HTTP/1.1\r\nHost: %s:%d\r\nConnection: close\r\n\r\n", argv[5], argv[3], oport);
    body_bytes = atol(argv[6]);
    int nconns = atoi(argv[7]);
    double duration = atof(argv[8]);
    verbose = argc > 9 && strcmp(argv[9], "-v") == 0;

    ep = epoll_create1(0);
    conn_t *conns = calloc(nconns, sizeof *conns);
    double t0 = now(), end = t0 + duration;
    for (int i = 0; i < nconns; i++) start(&conns[i]);
    struct epoll_event evs[256];
    while (now() < end) {
        int n = epoll_wait(ep, evs, 256, 100);
        for (int i = 0; i < n; i++) {
            conn_t *c = evs[i].data.ptr;
            if (c->fd < 0) continue;
            event(c, evs[i].events);
        }
        // restart the finished ones after the batch (a later event of this batch may name a closed connection)
        if (now() < end)
            for (int i = 0; i < nconns; i++)
                if (conns[i].fd < 0) start(&conns[i]);
    }
    double el = now() - t0;
    qsort(lat, lat_n, sizeof *lat, cmpf);
    double sum = 0;
    for (long i = 0; i < lat_n; i++) sum += lat[i];
    printf("HXRESULT %ld %ld %llu %.3f %.3f %.3f\n", requests, errors, bytes, el,
           lat_n ? sum / lat_n : 0, lat_n ? lat[(long)(0.99 * (lat_n - 1))] : 0);
    if (errors) printf("last error: %s\n", last_error);
    return 0;
}
