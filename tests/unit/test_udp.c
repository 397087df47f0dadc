/* Tests of the UDP endpoint: batched echo over IPv4/IPv6, peer checks, malformed input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <uv.h>

#include <plane/error.h>

#include "common/clock.h"
#include "common/fault.h"
#include "common/udp.h"
#include "common/wire.h"

#define ID_A 1
#define ID_B 2

struct echo {
    struct plane_udp *a, *b;
    int echoes;                 /* DATA received back at a */
    int bad_echo;
    int b_rx;                   /* DATA received at b */
    uint16_t b_last_peer;
    uint8_t seen[1024];
    int closed;
};

static void
tick_cb(uv_timer_t *t)
{
    (void) t;                   /* only wakes uv_run(UV_RUN_ONCE) up */
}

/* Runs loop until pred(arg) or timeout_ms.  Returns pred's last value. */
static bool
run_until(uv_loop_t *loop, bool (*pred)(void *), void *arg, uint64_t timeout_ms)
{
    uv_timer_t tick;
    uv_timer_init(loop, &tick);
    uv_timer_start(&tick, tick_cb, 5, 5);
    uint64_t deadline = plane_clock_now_ns() + timeout_ms * PLANE_NS_PER_MS;
    bool ok;
    while (!(ok = pred(arg)) && plane_clock_now_ns() < deadline) {
        uv_run(loop, UV_RUN_ONCE);
    }
    uv_close((uv_handle_t *) &tick, NULL);
    uv_run(loop, UV_RUN_NOWAIT);
    return ok;
}

static int
make_data(uint8_t *buf, size_t cap, uint32_t n, size_t frame_len)
{
    uint8_t frame[2048];
    memset(frame, (int) (n & 0xff), sizeof frame);
    memcpy(frame, &n, sizeof n);
    struct plane_wire_data d = {
        .app_id = 7, .key_hash = 0x1234, .ldev = 1, .pdev = 2, .port = 3,
        .processed_by = PLANE_DEV_NONE, .frame = frame, .frame_len = frame_len,
    };
    return plane_wire_data_encode(&d, buf, cap);
}

static void
b_data(void *arg, struct plane_udp *udp, uint16_t peer, const struct sockaddr *from,
       const uint8_t *buf, size_t len)
{
    struct echo *e = arg;
    e->b_rx++;
    e->b_last_peer = peer;
    if (peer == ID_A) {
        assert_int_equal(plane_udp_send(udp, from, buf, len), 0);
    }
}

static void
a_data(void *arg, struct plane_udp *udp, uint16_t peer, const struct sockaddr *from,
       const uint8_t *buf, size_t len)
{
    struct echo *e = arg;
    struct plane_wire_data d;
    uint32_t n;
    if (peer != ID_B || plane_wire_data_decode(buf, len, &d) || d.frame_len < 4) {
        e->bad_echo++;
        return;
    }
    memcpy(&n, d.frame, sizeof n);
    if (n >= sizeof e->seen || e->seen[n]) {
        e->bad_echo++;
        return;
    }
    e->seen[n] = 1;
    e->echoes++;
}

static bool
echoes_done(void *arg)
{
    struct echo *e = arg;
    return e->echoes == 256;
}

static void
closed_cb(void *arg, struct plane_udp *udp)
{
    ((struct echo *) arg)->closed++;
}

static void
make_addr(int family, struct sockaddr_storage *ss)
{
    memset(ss, 0, sizeof *ss);
    if (family == AF_INET) {
        uv_ip4_addr("127.0.0.1", 0, (struct sockaddr_in *) ss);
    } else {
        uv_ip6_addr("::1", 0, (struct sockaddr_in6 *) ss);
    }
}

/* Echo of 256 DATA datagrams sent in sendmmsg batches of 128. */
static void
echo_family(int family)
{
    uv_loop_t loop;
    struct echo e = { 0 };
    struct sockaddr_storage any, aa, ba;
    struct plane_udp_opts opts = { .tx_batch = 128, .tx_pool = 512 };

    assert_int_equal(uv_loop_init(&loop), 0);
    e.a = plane_udp_new(&loop, &opts);
    e.b = plane_udp_new(&loop, &opts);
    assert_non_null(e.a);
    assert_non_null(e.b);
    make_addr(family, &any);
    int err = plane_udp_bind(e.a, (struct sockaddr *) &any);
    if (err && family == AF_INET6) {
        printf("IPv6 loopback unavailable (%s): skipped\n", uv_strerror(err));
        plane_udp_close(e.a, closed_cb, &e);
        plane_udp_close(e.b, closed_cb, &e);
        uv_run(&loop, UV_RUN_DEFAULT);
        assert_int_equal(e.closed, 2);
        assert_int_equal(uv_loop_close(&loop), 0);
        skip();
    }
    assert_int_equal(err, 0);
    assert_int_equal(plane_udp_bind(e.b, (struct sockaddr *) &any), 0);
    assert_int_equal(plane_udp_bind(e.b, (struct sockaddr *) &any), PLANE_ESTATE);
    assert_int_equal(plane_udp_local_addr(e.a, &aa), 0);
    assert_int_equal(plane_udp_local_addr(e.b, &ba), 0);
    assert_int_equal(aa.ss_family, family);
    assert_int_equal(plane_udp_peer_add(e.a, (struct sockaddr *) &ba, ID_B), 0);
    assert_int_equal(plane_udp_peer_add(e.b, (struct sockaddr *) &aa, ID_A), 0);
    plane_udp_set_data_handler(e.a, a_data, &e);
    plane_udp_set_data_handler(e.b, b_data, &e);

    uint8_t buf[PLANE_WIRE_MAX_DATAGRAM];
    for (uint32_t n = 0; n < 256; n++) {
        int len = make_data(buf, sizeof buf, n, 200 + n);
        assert_true(len > 0);
        assert_int_equal(plane_udp_send(e.a, (struct sockaddr *) &ba, buf, (size_t) len), 0);
    }
    /* Two full batches went out at once, each in one sendmmsg. */
    const struct plane_udp_stats *sa = plane_udp_stats(e.a);
    assert_int_equal(sa->tx_datagrams + sa->tx_slow_path, 256);
    if (sa->tx_eagain == 0) {
        assert_int_equal(sa->tx_batches, 2);
    }
    assert_true(run_until(&loop, echoes_done, &e, 20000));
    assert_int_equal(e.bad_echo, 0);

    const struct plane_udp_stats *sb = plane_udp_stats(e.b);
    assert_int_equal(sb->rx_datagrams, 256);
    assert_int_equal(sb->rx_data, 256);
    /* recvmmsg delivered several datagrams per call. */
    assert_true(sb->rx_batches < sb->rx_datagrams);
    printf("family %d: b rx %llu datagrams in %llu batches; a tx %llu batches\n", family,
           (unsigned long long) sb->rx_datagrams, (unsigned long long) sb->rx_batches,
           (unsigned long long) sa->tx_batches);

    plane_udp_close(e.a, closed_cb, &e);
    plane_udp_close(e.b, closed_cb, &e);
    plane_udp_close(e.b, closed_cb, &e);   /* second close: no-op */
    assert_int_equal(plane_udp_send(e.a, (struct sockaddr *) &ba, buf, 10), PLANE_ESTATE);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(e.closed, 2);
    assert_int_equal(uv_loop_close(&loop), 0);
}

static void
test_echo_ipv4(void **state)
{
    echo_family(AF_INET);
}

static void
test_echo_ipv6(void **state)
{
    echo_family(AF_INET6);
}

struct rej {
    struct plane_udp *b;
    uint64_t want;
    int closed;
};

static bool
b_rx_at_least(void *arg)
{
    struct rej *r = arg;
    return plane_udp_stats(r->b)->rx_datagrams >= r->want;
}

static void
rej_closed(void *arg, struct plane_udp *udp)
{
    ((struct rej *) arg)->closed++;
}

/* Unknown peers, accept-any mode, oversized, malformed and unauthenticated datagrams. */
static void
test_rejections(void **state)
{
    uv_loop_t loop;
    struct echo e = { 0 };
    struct rej r = { 0 };
    struct sockaddr_storage any, ba, ca, rawa;
    uint8_t buf[PLANE_WIRE_MAX_DATAGRAM + 1000];

    assert_int_equal(uv_loop_init(&loop), 0);
    r.b = plane_udp_new(&loop, NULL);
    struct plane_udp *c = plane_udp_new(&loop, NULL);
    make_addr(AF_INET, &any);
    assert_int_equal(plane_udp_bind(r.b, (struct sockaddr *) &any), 0);
    assert_int_equal(plane_udp_bind(c, (struct sockaddr *) &any), 0);
    assert_int_equal(plane_udp_local_addr(r.b, &ba), 0);
    assert_int_equal(plane_udp_local_addr(c, &ca), 0);
    plane_udp_set_data_handler(r.b, b_data, &e);

    /* A plain socket stands for a misbehaving sender. */
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *) &any, sizeof(struct sockaddr_in)), 0);
    socklen_t sl = sizeof rawa;
    assert_int_equal(getsockname(fd, (struct sockaddr *) &rawa, &sl), 0);

    /* 1. c is not in b's peer table: rejected and counted. */
    int len = make_data(buf, sizeof buf, 1, 64);
    assert_int_equal(plane_udp_send(c, (struct sockaddr *) &ba, buf, (size_t) len), 0);
    r.want = 1;
    assert_true(run_until(&loop, b_rx_at_least, &r, 20000));
    assert_int_equal(plane_udp_stats(r.b)->rx_unknown_peer, 1);
    assert_int_equal(e.b_rx, 0);

    /* 2. accept-any: delivered with peer PLANE_DEV_NONE. */
    plane_udp_set_accept_any(r.b, true);
    assert_int_equal(plane_udp_send(c, (struct sockaddr *) &ba, buf, (size_t) len), 0);
    r.want = 2;
    assert_true(run_until(&loop, b_rx_at_least, &r, 20000));
    assert_int_equal(e.b_rx, 1);
    assert_int_equal(e.b_last_peer, PLANE_DEV_NONE);
    plane_udp_set_accept_any(r.b, false);

    /* 3. Once registered, c is known by its id; removal makes it unknown again. */
    assert_int_equal(plane_udp_peer_add(r.b, (struct sockaddr *) &ca, 9), 0);
    uint16_t id = 0;
    assert_true(plane_udp_peer_lookup(r.b, (struct sockaddr *) &ca, &id));
    assert_int_equal(id, 9);
    assert_int_equal(plane_udp_send(c, (struct sockaddr *) &ba, buf, (size_t) len), 0);
    r.want = 3;
    assert_true(run_until(&loop, b_rx_at_least, &r, 20000));
    assert_int_equal(e.b_rx, 2);
    assert_int_equal(e.b_last_peer, 9);
    assert_int_equal(plane_udp_peer_remove(r.b, (struct sockaddr *) &ca), 0);
    assert_int_equal(plane_udp_peer_remove(r.b, (struct sockaddr *) &ca), PLANE_ENOENT);
    assert_false(plane_udp_peer_lookup(r.b, (struct sockaddr *) &ca, &id));

    /* 4. Oversized: the sender refuses it, and a raw one is rejected on receive. */
    memset(buf, 0x90, sizeof buf);
    assert_int_equal(plane_udp_send(c, (struct sockaddr *) &ba, buf, PLANE_WIRE_MAX_DATAGRAM + 1),
                     PLANE_EMSGSIZE);
    assert_int_equal(plane_udp_stats(c)->tx_too_large, 1);
    assert_int_equal(plane_udp_peer_add(r.b, (struct sockaddr *) &rawa, 5), 0);
    assert_true(sendto(fd, buf, PLANE_WIRE_MAX_DATAGRAM + 1, 0, (struct sockaddr *) &ba,
                       sizeof(struct sockaddr_in)) > 0);
    /* 5. Malformed header, bad version, an empty datagram. */
    static const uint8_t garbage[] = { 0xc1, 0xff, 0x00 };
    uint8_t bad_version[256];
    int bvlen = make_data(bad_version, sizeof bad_version, 1, 16);
    assert_true(bvlen > 2 && bad_version[1] == PLANE_WIRE_VERSION);
    bad_version[1] = PLANE_WIRE_VERSION + 1;     /* element 0, a positive fixint */
    assert_true(sendto(fd, garbage, sizeof garbage, 0, (struct sockaddr *) &ba,
                       sizeof(struct sockaddr_in)) > 0);
    assert_true(sendto(fd, bad_version, (size_t) bvlen, 0, (struct sockaddr *) &ba,
                       sizeof(struct sockaddr_in)) > 0);
    assert_true(sendto(fd, garbage, 0, 0, (struct sockaddr *) &ba,
                       sizeof(struct sockaddr_in)) >= 0);
    /* 6. A CONTROL datagram without a key configured. */
    struct plane_wire_ctl ctl = { .kind = PLANE_CTL_REQUEST, .sender = 5, .msg_type = 1 };
    len = plane_wire_ctl_encode(&ctl, buf, sizeof buf);
    assert_true(len > 0);
    assert_true(sendto(fd, buf, (size_t) len, 0, (struct sockaddr *) &ba,
                       sizeof(struct sockaddr_in)) > 0);
    r.want = 8;
    assert_true(run_until(&loop, b_rx_at_least, &r, 20000));
    const struct plane_udp_stats *s = plane_udp_stats(r.b);
    assert_int_equal(s->rx_too_large, 1);
    assert_int_equal(s->rx_malformed, 2);
    assert_int_equal(s->rx_bad_version, 1);
    assert_int_equal(s->rx_no_auth, 1);
    assert_int_equal(e.b_rx, 2);
    for (size_t i = 0; plane_udp_counter_name(i); i++) {
        if (plane_counters_get(s, i)) {
            printf("  %s = %llu\n", plane_udp_counter_name(i),
                   (unsigned long long) plane_counters_get(s, i));
        }
    }
    close(fd);
    plane_udp_close(r.b, rej_closed, &r);
    plane_udp_close(c, rej_closed, &r);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(r.closed, 2);
    assert_int_equal(uv_loop_close(&loop), 0);
}

struct faulty {
    int got;
    int dups;
    uint8_t seen[256];
};

static void
faulty_rx(void *arg, struct plane_udp *udp, uint16_t peer, const struct sockaddr *from,
          const uint8_t *buf, size_t len)
{
    struct faulty *f = arg;
    struct plane_wire_data d;
    uint32_t n;
    assert_int_equal(plane_wire_data_decode(buf, len, &d), 0);
    memcpy(&n, d.frame, sizeof n);
    assert_true(n < 256);
    if (f->seen[n]++) {
        f->dups++;
    }
    f->got++;
}

struct faulty_wait {
    struct faulty *f;
    struct plane_fault *fault;
};

static bool
faulty_done(void *arg)
{
    struct faulty_wait *w = arg;
    return (uint64_t) w->f->got
           == 256 - w->fault->stats.dropped + w->fault->stats.duplicated;
}

/* The fault hook on send: drops, duplicates, delays and reorders, all accounted for. */
static void
test_fault_hook(void **state)
{
    uv_loop_t loop;
    struct faulty f = { 0 };
    struct plane_fault fault;
    struct sockaddr_storage any, aa, ba;
    uint8_t buf[PLANE_WIRE_MAX_DATAGRAM];

    assert_int_equal(plane_fault_parse(&fault,
        "drop=0.2,dup=0.2,delay=1ms:3ms,delay_p=0.2,reorder=0.1,seed=4242"), 0);
    printf("fault seed %llu\n", (unsigned long long) plane_fault_seed(&fault));
    assert_int_equal(uv_loop_init(&loop), 0);
    struct plane_udp *a = plane_udp_new(&loop, NULL);
    struct plane_udp *b = plane_udp_new(&loop, NULL);
    make_addr(AF_INET, &any);
    assert_int_equal(plane_udp_bind(a, (struct sockaddr *) &any), 0);
    assert_int_equal(plane_udp_bind(b, (struct sockaddr *) &any), 0);
    plane_udp_local_addr(a, &aa);
    plane_udp_local_addr(b, &ba);
    plane_udp_peer_add(b, (struct sockaddr *) &aa, ID_A);
    plane_udp_set_data_handler(b, faulty_rx, &f);
    plane_udp_set_fault(a, &fault);
    for (uint32_t n = 0; n < 256; n++) {
        int len = make_data(buf, sizeof buf, n, 32);
        assert_int_equal(plane_udp_send(a, (struct sockaddr *) &ba, buf, (size_t) len), 0);
    }
    struct faulty_wait w = { &f, &fault };
    assert_true(run_until(&loop, faulty_done, &w, 20000));
    assert_true(fault.stats.dropped > 0 && fault.stats.duplicated > 0);
    assert_true(fault.stats.delayed > 0 && fault.stats.reordered > 0);
    assert_int_equal(plane_udp_stats(a)->tx_fault_dropped, fault.stats.dropped);
    assert_int_equal(f.dups, (int) fault.stats.duplicated);
    /* Queue delayed datagrams, then close: they are dropped without leaks. */
    fault.drop = fault.dup = fault.reorder = 0;
    fault.delay = 1.0;
    fault.delay_min_ns = fault.delay_max_ns = PLANE_NS_PER_SEC;
    for (uint32_t n = 0; n < 10; n++) {
        int len = make_data(buf, sizeof buf, n, 32);
        assert_int_equal(plane_udp_send(a, (struct sockaddr *) &ba, buf, (size_t) len), 0);
    }
    plane_udp_close(a, NULL, NULL);
    plane_udp_close(b, NULL, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
}

/* A tiny tx pool runs dry: sends fail with EAGAIN, counted, nothing leaks. */
static void
test_pool_exhaustion(void **state)
{
    uv_loop_t loop;
    struct sockaddr_storage any, ba;
    struct plane_udp_opts opts = { .tx_pool = 4, .tx_batch = 64 };
    uint8_t buf[64] = { 0 };

    assert_int_equal(uv_loop_init(&loop), 0);
    struct plane_udp *a = plane_udp_new(&loop, &opts);
    make_addr(AF_INET, &any);
    assert_int_equal(plane_udp_bind(a, (struct sockaddr *) &any), 0);
    plane_udp_local_addr(a, &ba);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(plane_udp_send(a, (struct sockaddr *) &ba, buf, sizeof buf), 0);
    }
    assert_int_equal(plane_udp_send(a, (struct sockaddr *) &ba, buf, sizeof buf), PLANE_EAGAIN);
    assert_int_equal(plane_udp_stats(a)->tx_no_buffer, 1);
    assert_int_equal(plane_udp_flush(a), 4);
    assert_int_equal(plane_udp_send(a, (struct sockaddr *) &ba, buf, sizeof buf), 0);
    plane_udp_close(a, NULL, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_echo_ipv4),
        cmocka_unit_test(test_echo_ipv6),
        cmocka_unit_test(test_rejections),
        cmocka_unit_test(test_fault_hook),
        cmocka_unit_test(test_pool_exhaustion),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
