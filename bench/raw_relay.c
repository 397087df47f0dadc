/* raw_relay: a minimal recvmmsg/sendmmsg UDP relay, the transport's ceiling that switchd's hit path is compared with. */
#include <arpa/inet.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/*
 * Usage: raw_relay LISTEN_PORT TO_PORT SECONDS
 * Binds 127.0.0.1:LISTEN_PORT, forwards every datagram unchanged to
 * 127.0.0.1:TO_PORT in batches of up to 64, on one thread, for SECONDS (or
 * until 2 s without a datagram once traffic started), then prints
 * `relayed N`.  It does what switchd does on a hit minus the parse, the
 * lookup and the app, so their ratio is the hit path's efficiency.
 */

#define BATCH 64
#define SNAP 2048

static double
now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int
main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: raw_relay LISTEN_PORT TO_PORT SECONDS\n");
        return 1;
    }
    int in = socket(AF_INET, SOCK_DGRAM, 0);
    int out = socket(AF_INET, SOCK_DGRAM, 0);
    if (in < 0 || out < 0) {
        perror("socket");
        return 2;
    }
    int big = 8 << 20;
    setsockopt(in, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
    setsockopt(out, SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
    struct sockaddr_in la = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[1]))};
    struct sockaddr_in ta = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[2]))};
    inet_pton(AF_INET, "127.0.0.1", &la.sin_addr);
    inet_pton(AF_INET, "127.0.0.1", &ta.sin_addr);
    if (bind(in, (struct sockaddr *)&la, sizeof la) != 0 ||
        connect(out, (struct sockaddr *)&ta, sizeof ta) != 0) {
        perror("bind/connect");
        return 2;
    }
    double secs = atof(argv[3]);
    static unsigned char bufs[BATCH][SNAP];
    struct iovec iov[BATCH];
    struct mmsghdr msgs[BATCH];
    memset(msgs, 0, sizeof msgs);
    for (int i = 0; i < BATCH; i++) {
        iov[i].iov_base = bufs[i];
        iov[i].iov_len = SNAP;
        msgs[i].msg_hdr.msg_iov = &iov[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
    }
    uint64_t relayed = 0;
    double start = now_s(), last = 0;
    for (;;) {
        double t = now_s();
        if (t - start > secs || (last > 0 && t - last > 2.0)) {
            break;
        }
        struct pollfd pfd = {.fd = in, .events = POLLIN};
        if (poll(&pfd, 1, 100) <= 0) {
            continue;
        }
        for (int i = 0; i < BATCH; i++) {
            iov[i].iov_len = SNAP;
        }
        int n = recvmmsg(in, msgs, BATCH, MSG_DONTWAIT, NULL);
        if (n <= 0) {
            continue;
        }
        last = now_s();
        for (int i = 0; i < n; i++) {
            iov[i].iov_len = msgs[i].msg_len;
        }
        int sent = 0;
        while (sent < n) {
            int k = sendmmsg(out, msgs + sent, (unsigned)(n - sent), 0);
            if (k <= 0) {
                break; /* drop the rest of the batch, as a full port would */
            }
            sent += k;
        }
        relayed += (uint64_t)sent;
    }
    printf("relayed %" PRIu64 "\n", relayed);
    close(in);
    close(out);
    return 0;
}
