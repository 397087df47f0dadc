/* Tests of RPC: exactly-once execution under loss and duplication, async replies, auth, replay. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <msgpack.h>
#include <netinet/in.h>
#include <uv.h>

#include <plane/error.h>

#include "common/auth.h"
#include "common/clock.h"
#include "common/fault.h"
#include "common/rpc.h"
#include "common/udp.h"
#include "common/wire.h"

#define CLIENT 1
#define SERVER 2
#define NREQ 500
#define T_SYNC PLANE_MSG_HELLO
#define T_ASYNC PLANE_MSG_HEARTBEAT
#define T_NONE PLANE_MSG_STATS

static const uint8_t key_a[PLANE_AUTH_KEY_LEN] = "plane-test-key-aaaaaaaaaaaaaaaa";
static const uint8_t key_b[PLANE_AUTH_KEY_LEN] = "plane-test-key-bbbbbbbbbbbbbbbb";

struct env {
    uv_loop_t loop;
    struct plane_udp *cu, *su;          /* client and server endpoints */
    struct plane_auth ca, sa;
    struct plane_rpc *crpc, *srpc;
    struct plane_fault cf, sf;
    struct sockaddr_storage caddr, saddr;

    int exec[NREQ];                     /* handler runs per request number */
    int done[NREQ];                     /* client callbacks per request number */
    int completed, failed, wrong;
    int last_status;

    uint64_t pending[NREQ];             /* async tokens */
    uint64_t pending_n[NREQ];           /* and their request numbers */
    int npending;
    uv_timer_t async_timer;
};

static size_t
pack_uint(uint8_t *out, size_t cap, uint64_t v)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_uint64(&pk, v);
    assert_true(sb.size <= cap);
    memcpy(out, sb.data, sb.size);
    size_t n = sb.size;
    msgpack_sbuffer_destroy(&sb);
    return n;
}

static bool
unpack_uint(const uint8_t *buf, size_t len, uint64_t *v)
{
    msgpack_unpacked u;
    size_t off = 0;
    bool ok = false;
    msgpack_unpacked_init(&u);
    if (msgpack_unpack_next(&u, (const char *) buf, len, &off) == MSGPACK_UNPACK_SUCCESS
        && u.data.type == MSGPACK_OBJECT_POSITIVE_INTEGER && off == len) {
        *v = u.data.via.u64;
        ok = true;
    }
    msgpack_unpacked_destroy(&u);
    return ok;
}

/* Server: answers n with 2n + 1, counting executions. */
static void
sync_handler(void *arg, struct plane_rpc *rpc, const struct plane_rpc_req *req)
{
    struct env *e = arg;
    uint64_t n;
    assert_true(unpack_uint(req->ctl->body, req->ctl->body_len, &n));
    assert_true(n < NREQ);
    assert_int_equal(req->peer, CLIENT);
    e->exec[n]++;
    uint8_t out[16];
    size_t len = pack_uint(out, sizeof out, 2 * n + 1);
    assert_int_equal(plane_rpc_respond(rpc, req->token, 0, out, len), 0);
    assert_int_equal(plane_rpc_respond(rpc, req->token, 0, out, len), PLANE_ENOENT);
}

/* Server: keeps the token and answers from a timer later. */
static void
async_handler(void *arg, struct plane_rpc *rpc, const struct plane_rpc_req *req)
{
    struct env *e = arg;
    uint64_t n;
    assert_true(unpack_uint(req->ctl->body, req->ctl->body_len, &n));
    assert_true(n < NREQ);
    e->exec[n]++;
    e->pending_n[e->npending] = n;
    e->pending[e->npending++] = req->token;
}

static void
async_timer_cb(uv_timer_t *t)
{
    struct env *e = t->data;
    /*
     * Answer only once every request is pending and a retransmission has
     * hit the in-progress entry: waiting on that condition, not on elapsed
     * time, keeps the test meaningful when a loaded machine stalls the loop.
     */
    if (e->npending < 20 || plane_rpc_stats(e->srpc)->dup_in_progress == 0) {
        uv_timer_start(t, async_timer_cb, 10, 0);
        return;
    }
    for (int i = 0; i < e->npending; i++) {
        uint8_t out[16];
        size_t len = pack_uint(out, sizeof out, 2 * e->pending_n[i] + 1);
        assert_int_equal(plane_rpc_respond(e->srpc, e->pending[i], 0, out, len), 0);
    }
    e->npending = 0;
}

static void
call_cb(void *arg, struct plane_rpc *rpc, int status, const struct plane_wire_ctl *resp)
{
    struct env *e = *(struct env **) arg;
    uint64_t n = (uint64_t) ((uintptr_t) ((void **) arg)[1]);
    e->last_status = status;
    if (status != 0) {
        e->failed++;
    } else {
        uint64_t v;
        if (!resp || !unpack_uint(resp->body, resp->body_len, &v)
            || v != 2 * n + 1) {
            e->wrong++;
        }
    }
    e->done[n]++;
    e->completed++;
}

/* Call arguments live as long as the env: (env, n) pairs. */
static void *call_args[NREQ][2];

static void
env_init(struct env *e, const char *cfault, const char *sfault, const uint8_t *ckey)
{
    struct sockaddr_storage any;
    memset(e, 0, sizeof *e);
    assert_int_equal(uv_loop_init(&e->loop), 0);
    e->cu = plane_udp_new(&e->loop, NULL);
    e->su = plane_udp_new(&e->loop, NULL);
    assert_non_null(e->cu);
    assert_non_null(e->su);
    uv_ip4_addr("127.0.0.1", 0, (struct sockaddr_in *) &any);
    assert_int_equal(plane_udp_bind(e->cu, (struct sockaddr *) &any), 0);
    assert_int_equal(plane_udp_bind(e->su, (struct sockaddr *) &any), 0);
    plane_udp_local_addr(e->cu, &e->caddr);
    plane_udp_local_addr(e->su, &e->saddr);
    assert_int_equal(plane_auth_init(&e->ca, ckey, 0), 0);
    assert_int_equal(plane_auth_init(&e->sa, key_a, 0), 0);
    assert_int_equal(plane_fault_parse(&e->cf, cfault), 0);
    assert_int_equal(plane_fault_parse(&e->sf, sfault), 0);
    printf("client fault seed %llu, server fault seed %llu\n",
           (unsigned long long) plane_fault_seed(&e->cf),
           (unsigned long long) plane_fault_seed(&e->sf));
    plane_udp_set_fault(e->cu, &e->cf);
    plane_udp_set_fault(e->su, &e->sf);
    struct plane_rpc_opts opts = {
        .timeout_ns = 20 * PLANE_NS_PER_MS, .max_backoff_ns = 200 * PLANE_NS_PER_MS,
        .retries = 40, .jitter_seed = 77,
    };
    e->crpc = plane_rpc_new(&e->loop, e->cu, CLIENT, plane_auth_new_incarnation(), &e->ca, &opts);
    e->srpc = plane_rpc_new(&e->loop, e->su, SERVER, plane_auth_new_incarnation(), &e->sa, &opts);
    assert_non_null(e->crpc);
    assert_non_null(e->srpc);
    assert_int_equal(plane_rpc_peer_add(e->crpc, SERVER, (struct sockaddr *) &e->saddr), 0);
    assert_int_equal(plane_rpc_peer_add(e->srpc, CLIENT, (struct sockaddr *) &e->caddr), 0);
    assert_int_equal(plane_rpc_set_handler(e->srpc, T_SYNC, sync_handler, e), 0);
    assert_int_equal(plane_rpc_set_handler(e->srpc, T_ASYNC, async_handler, e), 0);
    assert_int_equal(plane_rpc_set_handler(e->srpc, PLANE_RPC_MAX_TYPE, sync_handler, e),
                     PLANE_EINVAL);
    uv_timer_init(&e->loop, &e->async_timer);
    e->async_timer.data = e;
    for (int i = 0; i < NREQ; i++) {
        call_args[i][0] = e;
        call_args[i][1] = (void *) (uintptr_t) i;
    }
}

static void
env_close(struct env *e)
{
    /* The rpcs first: they detach from their endpoints. */
    plane_rpc_close(e->crpc, NULL, NULL);
    plane_rpc_close(e->srpc, NULL, NULL);
    plane_udp_close(e->cu, NULL, NULL);
    plane_udp_close(e->su, NULL, NULL);
    uv_close((uv_handle_t *) &e->async_timer, NULL);
    uv_run(&e->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&e->loop), 0);
    plane_auth_uninit(&e->ca);
    plane_auth_uninit(&e->sa);
}

static void
tick_cb(uv_timer_t *t)
{
    (void) t;
}

static bool
run_until_completed(struct env *e, int want, uint64_t timeout_ms)
{
    uv_timer_t tick;
    uv_timer_init(&e->loop, &tick);
    uv_timer_start(&tick, tick_cb, 5, 5);
    uint64_t deadline = plane_clock_now_ns() + timeout_ms * PLANE_NS_PER_MS;
    while (e->completed < want && plane_clock_now_ns() < deadline) {
        uv_run(&e->loop, UV_RUN_ONCE);
    }
    uv_close((uv_handle_t *) &tick, NULL);
    uv_run(&e->loop, UV_RUN_NOWAIT);
    return e->completed >= want;
}

static void
print_stats(const char *who, const struct plane_rpc_stats *s)
{
    printf("%s:", who);
    for (size_t i = 0; plane_rpc_counter_name(i); i++) {
        if (plane_counters_get(s, i)) {
            printf(" %s=%llu", plane_rpc_counter_name(i),
                   (unsigned long long) plane_counters_get(s, i));
        }
    }
    printf("\n");
}

static void
lossy_run(const char *cfault, const char *sfault)
{
    struct env e;
    env_init(&e, cfault, sfault, key_a);
    for (int n = 0; n < NREQ; n++) {
        uint8_t body[16];
        size_t len = pack_uint(body, sizeof body, (uint64_t) n);
        uint64_t rid = 0;
        assert_int_equal(plane_rpc_call(e.crpc, SERVER, T_SYNC, body, len, NULL, call_cb,
                                        call_args[n], &rid), 0);
        assert_int_equal(rid, (uint64_t) n + 1);
    }
    assert_int_equal(plane_rpc_inflight(e.crpc), NREQ);
    assert_true(run_until_completed(&e, NREQ, 120000));
    print_stats("client", plane_rpc_stats(e.crpc));
    print_stats("server", plane_rpc_stats(e.srpc));
    printf("client faults: dropped %llu dup %llu; server faults: dropped %llu dup %llu\n",
           (unsigned long long) e.cf.stats.dropped, (unsigned long long) e.cf.stats.duplicated,
           (unsigned long long) e.sf.stats.dropped, (unsigned long long) e.sf.stats.duplicated);
    assert_int_equal(e.failed, 0);
    assert_int_equal(e.wrong, 0);
    for (int n = 0; n < NREQ; n++) {
        assert_int_equal(e.done[n], 1);
        assert_int_equal(e.exec[n], 1);
    }
    assert_int_equal(plane_rpc_inflight(e.crpc), 0);
    assert_int_equal(plane_rpc_stats(e.srpc)->rx_requests, NREQ);
    assert_true(e.cf.stats.dropped > 0 && e.sf.stats.dropped > 0);
    assert_true(e.cf.stats.duplicated > 0 && e.sf.stats.duplicated > 0);
    /* Retransmitted or duplicated requests were answered from the cache. */
    assert_true(plane_rpc_stats(e.srpc)->dup_replied > 0);
    assert_true(plane_rpc_stats(e.crpc)->retransmits > 0);
    env_close(&e);
}

static void
test_loss_10(void **state)
{
    lossy_run("drop=0.1,dup=0.1,reorder=0.05,delay=1ms:3ms,delay_p=0.1,seed=1001",
              "drop=0.1,dup=0.1,reorder=0.05,delay=1ms:3ms,delay_p=0.1,seed=2002");
}

static void
test_loss_30(void **state)
{
    lossy_run("drop=0.3,dup=0.2,reorder=0.05,seed=3003",
              "drop=0.3,dup=0.2,reorder=0.05,seed=4004");
}

/* Async replies: retransmissions during handling are dropped, then answered once. */
static void
test_async(void **state)
{
    struct env e;
    env_init(&e, "", "", key_a);
    struct plane_rpc_call_opts copts = { .timeout_ns = 5 * PLANE_NS_PER_MS, .retries = 100,
                                         .max_backoff_ns = 10 * PLANE_NS_PER_MS };
    for (int n = 0; n < 20; n++) {
        uint8_t body[16];
        size_t len = pack_uint(body, sizeof body, (uint64_t) n);
        assert_int_equal(plane_rpc_call(e.crpc, SERVER, T_ASYNC, body, len, &copts, call_cb,
                                        call_args[n], NULL), 0);
    }
    /* Answer once retransmissions have arrived meanwhile (async_timer_cb). */
    uv_timer_start(&e.async_timer, async_timer_cb, 100, 0);
    assert_true(run_until_completed(&e, 20, 60000));
    assert_int_equal(e.failed, 0);
    assert_int_equal(e.wrong, 0);
    for (int n = 0; n < 20; n++) {
        assert_int_equal(e.exec[n], 1);
        assert_int_equal(e.done[n], 1);
    }
    assert_true(plane_rpc_stats(e.srpc)->dup_in_progress > 0);
    /* A stale token is refused. */
    assert_int_equal(plane_rpc_respond(e.srpc, 12345, 0, NULL, 0), PLANE_ENOENT);

    /* No handler: the caller gets ENOSYS from the peer. */
    e.completed = 0;
    assert_int_equal(plane_rpc_call(e.crpc, SERVER, T_NONE, NULL, 0, NULL, call_cb,
                                    call_args[30], NULL), 0);
    assert_true(run_until_completed(&e, 1, 60000));
    assert_int_equal(e.last_status, PLANE_ENOSYS);
    assert_int_equal(plane_rpc_stats(e.srpc)->no_handler, 1);

    /* Unknown peer and closing: refused without a callback; in flight: ECANCELED. */
    assert_int_equal(plane_rpc_call(e.crpc, 99, T_SYNC, NULL, 0, NULL, call_cb,
                                    call_args[31], NULL), PLANE_EPEER);
    e.completed = 0;
    e.failed = 0;
    assert_int_equal(plane_rpc_call(e.crpc, SERVER, T_ASYNC, NULL, 0, NULL, call_cb,
                                    call_args[32], NULL), 0);
    plane_rpc_close(e.crpc, NULL, NULL);
    assert_int_equal(e.completed, 1);
    assert_int_equal(e.last_status, PLANE_ECANCELED);
    assert_int_equal(plane_rpc_call(e.crpc, SERVER, T_SYNC, NULL, 0, NULL, call_cb,
                                    call_args[33], NULL), PLANE_ESTATE);
    env_close(&e);
}

/* A client with the wrong key: its calls time out and the server counts bad MACs. */
static void
test_wrong_key(void **state)
{
    struct env e;
    env_init(&e, "", "", key_b);
    struct plane_rpc_call_opts copts = { .timeout_ns = 5 * PLANE_NS_PER_MS, .retries = 3 };
    for (int n = 0; n < 5; n++) {
        uint8_t body[16];
        size_t len = pack_uint(body, sizeof body, (uint64_t) n);
        assert_int_equal(plane_rpc_call(e.crpc, SERVER, T_SYNC, body, len, &copts, call_cb,
                                        call_args[n], NULL), 0);
    }
    assert_true(run_until_completed(&e, 5, 60000));
    assert_int_equal(e.failed, 5);
    assert_int_equal(e.last_status, PLANE_ETIMEDOUT);
    assert_int_equal(plane_rpc_stats(e.crpc)->timed_out, 5);
    assert_int_equal(plane_udp_stats(e.su)->rx_bad_mac, 5 * 4);
    assert_int_equal(plane_rpc_stats(e.srpc)->rx_requests, 0);
    for (int n = 0; n < 5; n++) {
        assert_int_equal(e.exec[n], 0);
    }
    env_close(&e);
}

struct raw_wait {
    struct env *e;
    int fd;
    uint8_t buf[PLANE_WIRE_MAX_DATAGRAM];
    ssize_t len;
};

/* A captured request re-injected from a plain socket is rejected as a replay. */
static void
test_replay(void **state)
{
    struct env e;
    struct raw_wait r = { .e = &e, .len = -1 };
    struct sockaddr_storage rawa;
    env_init(&e, "", "", key_a);

    r.fd = socket(AF_INET, SOCK_DGRAM, 0);
    assert_true(r.fd >= 0);
    uv_ip4_addr("127.0.0.1", 0, (struct sockaddr_in *) &rawa);
    assert_int_equal(bind(r.fd, (struct sockaddr *) &rawa, sizeof(struct sockaddr_in)), 0);
    socklen_t sl = sizeof rawa;
    assert_int_equal(getsockname(r.fd, (struct sockaddr *) &rawa, &sl), 0);

    /* The client believes peer 3 is at the raw socket: that is the capture. */
    assert_int_equal(plane_rpc_peer_add(e.crpc, 3, (struct sockaddr *) &rawa), 0);
    struct plane_rpc_call_opts copts = { .timeout_ns = 5 * PLANE_NS_PER_MS, .retries = 1 };
    uint8_t body[16];
    size_t blen = pack_uint(body, sizeof body, 42);
    assert_int_equal(plane_rpc_call(e.crpc, 3, T_SYNC, body, blen, &copts, call_cb,
                                    call_args[42], NULL), 0);
    uint64_t deadline = plane_clock_now_ns() + 20 * PLANE_NS_PER_SEC;
    while (r.len < 0 && plane_clock_now_ns() < deadline) {
        uv_run(&e.loop, UV_RUN_NOWAIT);
        r.len = recv(r.fd, r.buf, sizeof r.buf, MSG_DONTWAIT);
        if (r.len < 0) {
            usleep(1000);
        }
    }
    assert_true(r.len > 0);
    assert_true(run_until_completed(&e, 1, 60000));    /* the capture call times out */
    assert_int_equal(e.last_status, PLANE_ETIMEDOUT);

    /* The server knows the raw socket's address as the client's device. */
    assert_int_equal(plane_udp_peer_add(e.su, (struct sockaddr *) &rawa, CLIENT), 0);
    for (int i = 0; i < 2; i++) {
        assert_true(sendto(r.fd, r.buf, (size_t) r.len, 0, (struct sockaddr *) &e.saddr,
                           sizeof(struct sockaddr_in)) == r.len);
    }
    deadline = plane_clock_now_ns() + 20 * PLANE_NS_PER_SEC;
    const struct plane_udp_stats *ss = plane_udp_stats(e.su);
    while (ss->rx_datagrams < 2 && plane_clock_now_ns() < deadline) {
        uv_run(&e.loop, UV_RUN_NOWAIT);
        usleep(1000);
    }
    assert_int_equal(ss->rx_datagrams, 2);
    assert_int_equal(ss->rx_ctl, 1);          /* the first copy was fresh to the server */
    assert_int_equal(ss->rx_replay, 1);       /* the second is a replay */
    assert_int_equal(e.exec[42], 1);
    assert_int_equal(e.sa.stats.replay_dup, 1);
    close(r.fd);
    env_close(&e);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_loss_10),
        cmocka_unit_test(test_loss_30),
        cmocka_unit_test(test_async),
        cmocka_unit_test(test_wrong_key),
        cmocka_unit_test(test_replay),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
