/* Tests of the merge operators: every built-in op, custom ops, invalid descriptors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <plane/app.h>
#include <plane/error.h>

#include "merge.h"

static struct plane_obj_desc
reg_desc(enum plane_merge_op op, uint16_t value_len)
{
    return (struct plane_obj_desc){
        .name = "r", .kind = PLANE_OBJ_REGISTER, .value_len = value_len,
        .size = 16, .merge = op,
    };
}

/* Applies op word-wise to two 2-word values; the words are unaligned on purpose. */
static void
run2(const struct plane_merge *m, bool minus, const uint64_t a[2],
     const uint64_t b[2], uint64_t out[2])
{
    uint8_t ba[17], bb[17], bo[17];
    memcpy(ba + 1, a, 16);
    memcpy(bb + 1, b, 16);
    if (minus) {
        plane_merge_minus(m, bo + 1, ba + 1, bb + 1, 16);
    } else {
        plane_merge_plus(m, bo + 1, ba + 1, bb + 1, 16);
    }
    memcpy(out, bo + 1, 16);
}

static void
test_builtin_ops(void **state)
{
    (void) state;
    struct plane_merge m;
    const uint64_t a[2] = {5, UINT64_MAX};
    const uint64_t b[2] = {7, 2};
    uint64_t o[2];

    struct plane_obj_desc d = reg_desc(PLANE_MERGE_ADD, 16);
    assert_int_equal(plane_merge_init(&m, &d), 0);
    assert_true(plane_merge_has_minus(&m));
    run2(&m, false, a, b, o);
    assert_true(o[0] == 12 && o[1] == 1);               /* wraps */
    run2(&m, true, a, b, o);
    assert_true(o[0] == (uint64_t) -2 && o[1] == UINT64_MAX - 2);
    /* (a + b) - b == a: the inverse the sync protocol relies on. */
    uint64_t s[2];
    run2(&m, false, a, b, s);
    run2(&m, true, s, b, o);
    assert_memory_equal(o, a, 16);

    d = reg_desc(PLANE_MERGE_OR, 16);
    assert_int_equal(plane_merge_init(&m, &d), 0);
    assert_false(plane_merge_has_minus(&m));
    run2(&m, false, a, b, o);
    assert_true(o[0] == 7 && o[1] == UINT64_MAX);

    d = reg_desc(PLANE_MERGE_MAX, 16);
    assert_int_equal(plane_merge_init(&m, &d), 0);
    assert_false(plane_merge_has_minus(&m));
    run2(&m, false, a, b, o);
    assert_true(o[0] == 7 && o[1] == UINT64_MAX);

    d = reg_desc(PLANE_MERGE_MIN, 16);
    assert_int_equal(plane_merge_init(&m, &d), 0);
    assert_false(plane_merge_has_minus(&m));
    run2(&m, false, a, b, o);
    assert_true(o[0] == 5 && o[1] == 2);

    /* out may alias an input. */
    d = reg_desc(PLANE_MERGE_ADD, 16);
    assert_int_equal(plane_merge_init(&m, &d), 0);
    uint64_t x[2] = {1, 2};
    plane_merge_plus(&m, x, x, b, 16);
    assert_true(x[0] == 8 && x[1] == 4);

    /* CMS (add) and Bloom (or) objects resolve like registers. */
    d.kind = PLANE_OBJ_CMS;
    assert_int_equal(plane_merge_init(&m, &d), 0);
    d.kind = PLANE_OBJ_BLOOM;
    d.merge = PLANE_MERGE_OR;
    assert_int_equal(plane_merge_init(&m, &d), 0);
    /* Tables have no operator. */
    d = (struct plane_obj_desc){.kind = PLANE_OBJ_TABLE, .value_len = 12};
    assert_int_equal(plane_merge_init(&m, &d), 0);
    assert_int_equal(m.op, PLANE_MERGE_NONE);
}

/* Byte-wise wrapping add: a custom group on a length that is not a multiple of 8. */
static void
bytes_add(void *out, const void *a, const void *b, size_t len)
{
    const uint8_t *pa = a, *pb = b;
    uint8_t *po = out;
    for (size_t i = 0; i < len; i++) {
        po[i] = (uint8_t) (pa[i] + pb[i]);
    }
}

static void
bytes_sub(void *out, const void *a, const void *b, size_t len)
{
    const uint8_t *pa = a, *pb = b;
    uint8_t *po = out;
    for (size_t i = 0; i < len; i++) {
        po[i] = (uint8_t) (pa[i] - pb[i]);
    }
}

static void
test_custom_ops(void **state)
{
    (void) state;
    struct plane_merge m;
    struct plane_obj_desc d = reg_desc(PLANE_MERGE_CUSTOM, 5);
    d.plus = bytes_add;
    d.minus = bytes_sub;
    assert_int_equal(plane_merge_init(&m, &d), 0);
    assert_true(plane_merge_has_minus(&m));
    uint8_t a[5] = {1, 2, 3, 250, 0}, b[5] = {1, 1, 1, 10, 0}, o[5];
    plane_merge_plus(&m, o, a, b, 5);
    assert_memory_equal(o, ((uint8_t[]){2, 3, 4, 4, 0}), 5);
    plane_merge_minus(&m, o, o, b, 5);
    assert_memory_equal(o, a, 5);

    /* Without minus a custom operator is merged idempotently. */
    d.minus = NULL;
    assert_int_equal(plane_merge_init(&m, &d), 0);
    assert_false(plane_merge_has_minus(&m));
    assert_ptr_equal(m.plus, bytes_add);
}

static void
test_invalid_descriptors(void **state)
{
    (void) state;
    struct plane_merge m;
    struct plane_obj_desc d;

    d = reg_desc(PLANE_MERGE_CUSTOM, 8);         /* custom without plus */
    assert_int_equal(plane_merge_init(&m, &d), PLANE_EINVAL);
    d.minus = bytes_sub;                          /* minus alone is not enough */
    assert_int_equal(plane_merge_init(&m, &d), PLANE_EINVAL);

    d = reg_desc(PLANE_MERGE_ADD, 12);           /* built-in on partial words */
    assert_int_equal(plane_merge_init(&m, &d), PLANE_EINVAL);
    d = reg_desc(PLANE_MERGE_OR, 4);
    assert_int_equal(plane_merge_init(&m, &d), PLANE_EINVAL);

    d = reg_desc(PLANE_MERGE_NONE, 8);           /* a register needs an operator */
    assert_int_equal(plane_merge_init(&m, &d), PLANE_EINVAL);
    d.kind = PLANE_OBJ_CMS;
    assert_int_equal(plane_merge_init(&m, &d), PLANE_EINVAL);

    d = reg_desc(PLANE_MERGE_ADD, 8);            /* a table must not have one */
    d.kind = PLANE_OBJ_TABLE;
    assert_int_equal(plane_merge_init(&m, &d), PLANE_EINVAL);

    d = reg_desc(PLANE_MERGE_ADD, 0);            /* a register without value */
    assert_int_equal(plane_merge_init(&m, &d), PLANE_EINVAL);
    d.kind = PLANE_OBJ_CMS;                      /* a CMS merges fixed words */
    assert_int_equal(plane_merge_init(&m, &d), 0);
    d = reg_desc(PLANE_MERGE_ADD, PLANE_OBJ_MAX_VALUE + 8);   /* too large */
    assert_int_equal(plane_merge_init(&m, &d), PLANE_EINVAL);
    d = reg_desc(PLANE_MERGE_ADD, PLANE_OBJ_MAX_VALUE);       /* the largest */
    assert_int_equal(plane_merge_init(&m, &d), 0);

    d = reg_desc((enum plane_merge_op) 99, 8);   /* unknown operator */
    assert_int_equal(plane_merge_init(&m, &d), PLANE_EINVAL);
    d = reg_desc(PLANE_MERGE_ADD, 8);            /* unknown kind */
    d.kind = (enum plane_obj_kind) 42;
    assert_int_equal(plane_merge_init(&m, &d), PLANE_EINVAL);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_builtin_ops),
        cmocka_unit_test(test_custom_ops),
        cmocka_unit_test(test_invalid_descriptors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
