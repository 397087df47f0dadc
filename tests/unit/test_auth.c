/* Tests of control-message auth: seal/verify, tampering, wrong key, replay windows. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include <plane/error.h>

#include "common/auth.h"
#include "common/wire.h"

static const uint8_t key_a[PLANE_AUTH_KEY_LEN] = "0123456789abcdef0123456789abcde";
static const uint8_t key_b[PLANE_AUTH_KEY_LEN] = "0123456789abcdef0123456789abcdX";

static void
test_seal_verify(void **state)
{
    struct plane_auth a, b;
    uint8_t msg[100];

    assert_int_equal(plane_auth_init(&a, key_a, 0), 0);
    assert_int_equal(plane_auth_init(&b, key_b, 0), 0);
    for (size_t i = 0; i < sizeof msg; i++) {
        msg[i] = (uint8_t) (i * 7);
    }
    memset(msg + sizeof msg - PLANE_WIRE_MAC_LEN, 0, PLANE_WIRE_MAC_LEN);
    assert_int_equal(plane_auth_seal(&a, msg, sizeof msg), 0);
    assert_int_equal(plane_auth_verify(&a, msg, sizeof msg), 0);
    /* The MAC is libsodium's crypto_auth (HMAC-SHA-512-256) of the body:
     * daemons built before the precomputed key state interoperate. */
    uint8_t want[crypto_auth_BYTES];
    crypto_auth(want, msg, sizeof msg - PLANE_WIRE_MAC_LEN, key_a);
    assert_memory_equal(want, msg + sizeof msg - PLANE_WIRE_MAC_LEN, PLANE_WIRE_MAC_LEN);
    assert_int_equal(plane_auth_verify(&b, msg, sizeof msg), PLANE_EAUTH);

    /* Every single flipped bit, in the data or the MAC, fails. */
    for (size_t i = 0; i < sizeof msg * 8; i++) {
        msg[i / 8] ^= (uint8_t) (1u << (i % 8));
        assert_int_equal(plane_auth_verify(&a, msg, sizeof msg), PLANE_EAUTH);
        msg[i / 8] ^= (uint8_t) (1u << (i % 8));
    }
    assert_int_equal(plane_auth_verify(&a, msg, sizeof msg), 0);
    /* Truncated or extended input fails; too short for a MAC fails cleanly. */
    assert_int_equal(plane_auth_verify(&a, msg, sizeof msg - 1), PLANE_EAUTH);
    assert_int_equal(plane_auth_verify(&a, msg, 10), PLANE_EAUTH);
    assert_int_equal(plane_auth_verify(&a, msg, 0), PLANE_EAUTH);
    assert_int_equal(plane_auth_seal(&a, msg, 10), PLANE_EINVAL);
    /* A MAC over nothing (len == MAC length) is still a MAC. */
    assert_int_equal(plane_auth_seal(&a, msg, PLANE_WIRE_MAC_LEN), 0);
    assert_int_equal(plane_auth_verify(&a, msg, PLANE_WIRE_MAC_LEN), 0);
    assert_true(a.stats.bad_mac > 0);
    plane_auth_uninit(&a);
    plane_auth_uninit(&b);
    assert_int_equal(plane_auth_init(&b, NULL, 0), PLANE_EINVAL);
    plane_auth_uninit(&b);
}

static void
test_replay_window(void **state)
{
    struct plane_replay w;
    plane_replay_reset(&w);

    /* In order. */
    for (uint64_t s = 100; s < 200; s++) {
        assert_int_equal(plane_replay_check(&w, s), 0);
    }
    /* Duplicates. */
    assert_int_equal(plane_replay_check(&w, 150), PLANE_EREPLAY);
    assert_int_equal(plane_replay_check(&w, 199), PLANE_EREPLAY);
    /* Out of order within the window. */
    assert_int_equal(plane_replay_check(&w, 300), 0);
    assert_int_equal(plane_replay_check(&w, 250), 0);
    assert_int_equal(plane_replay_check(&w, 201), 0);
    assert_int_equal(plane_replay_check(&w, 250), PLANE_EREPLAY);
    /* Far ahead: everything older than the window becomes too old. */
    uint64_t top = 300 + PLANE_REPLAY_WINDOW * 3 + 17;
    assert_int_equal(plane_replay_check(&w, top), 0);
    assert_int_equal(plane_replay_check(&w, 300), PLANE_EREPLAY);
    assert_int_equal(plane_replay_check(&w, top - (PLANE_REPLAY_WINDOW - 64)), PLANE_EREPLAY);
    /* Just inside the guaranteed window, never seen: accepted once. */
    uint64_t edge = top - (PLANE_REPLAY_WINDOW - 64) + 1;
    assert_int_equal(plane_replay_check(&w, edge), 0);
    assert_int_equal(plane_replay_check(&w, edge), PLANE_EREPLAY);
    /* Every seq between is still unseen after the big jump (words cleared). */
    for (uint64_t s = edge + 1; s < top; s++) {
        assert_int_equal(plane_replay_check(&w, s), 0);
    }
    for (uint64_t s = edge; s <= top; s++) {
        assert_int_equal(plane_replay_check(&w, s), PLANE_EREPLAY);
    }
    /* Sliding by one word at a time clears exactly the recycled word. */
    plane_replay_reset(&w);
    for (uint64_t s = 0; s < 10 * PLANE_REPLAY_WINDOW; s += 2) {
        assert_int_equal(plane_replay_check(&w, s), 0);
        if (s >= 2) {
            assert_int_equal(plane_replay_check(&w, s - 1), 0);
            assert_int_equal(plane_replay_check(&w, s - 2), PLANE_EREPLAY);
        }
    }
}

static void
test_replay_incarnation(void **state)
{
    struct plane_auth a;
    assert_int_equal(plane_auth_init(&a, key_a, 4), 0);

    /* Two senders have separate windows. */
    assert_int_equal(plane_auth_check_replay(&a, 1, 1000, 5), 0);
    assert_int_equal(plane_auth_check_replay(&a, 2, 1000, 5), 0);
    assert_int_equal(plane_auth_check_replay(&a, 1, 1000, 5), PLANE_EREPLAY);
    assert_int_equal(plane_auth_check_replay(&a, 1, 1000, 6), 0);
    assert_int_equal(plane_auth_check_replay(&a, 1, 1000, 4), 0);
    assert_int_equal(a.stats.replay_dup, 1);

    /* Sender 1 restarts: a larger incarnation resets its window (seq restarts). */
    assert_int_equal(plane_auth_check_replay(&a, 1, 2000, 1), 0);
    assert_int_equal(plane_auth_check_replay(&a, 1, 2000, 2), 0);
    assert_int_equal(plane_auth_check_replay(&a, 1, 2000, 1), PLANE_EREPLAY);
    /* The old incarnation's messages are replays now, even unseen seqs. */
    assert_int_equal(plane_auth_check_replay(&a, 1, 1000, 7), PLANE_EREPLAY);
    assert_int_equal(plane_auth_check_replay(&a, 1, 1000, 6), PLANE_EREPLAY);
    assert_int_equal(a.stats.replay_old_incarnation, 2);
    /* Sender 2 is untouched. */
    assert_int_equal(plane_auth_check_replay(&a, 2, 1000, 5), PLANE_EREPLAY);
    assert_int_equal(plane_auth_check_replay(&a, 2, 1000, 6), 0);

    /* Forgetting a sender lets it start again at any incarnation. */
    plane_auth_forget(&a, 1);
    assert_int_equal(plane_auth_check_replay(&a, 1, 1000, 6), 0);

    /* The table is bounded: a 4-peer table takes at least 4 senders, then refuses. */
    int refused = 0;
    for (uint16_t s = 3; s < 40; s++) {
        refused += plane_auth_check_replay(&a, s, 1, 1) == PLANE_ENOSPC;
    }
    assert_true(refused > 0);
    assert_int_equal(a.stats.peers_full, (uint64_t) refused);

    /* Incarnations grow across calls (restarts). */
    uint64_t i1 = plane_auth_new_incarnation();
    uint64_t i2 = plane_auth_new_incarnation();
    assert_true(i1 != 0 && (i2 >> 16) >= (i1 >> 16));
    plane_auth_uninit(&a);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seal_verify),
        cmocka_unit_test(test_replay_window),
        cmocka_unit_test(test_replay_incarnation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
