/* Tests of the error table: every code has a name and a description. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <plane/error.h>

static void
test_every_code_named(void **state)
{
#define CHECK_(name, value, desc)                                              \
    assert_string_equal(plane_err_name(value), #name);                         \
    assert_string_equal(plane_strerror(value), desc);                          \
    assert_true((value) < 0);
    PLANE_ERRNO_MAP(CHECK_)
#undef CHECK_
}

static void
test_libuv_codes_pass_through(void **state)
{
    /* libuv returns -errno on Unix; a code outside our table still reads well. */
    assert_string_equal(plane_strerror(-ENOTCONN), strerror(ENOTCONN));
    assert_string_equal(plane_err_name(-ENOTCONN), "UNKNOWN");
    assert_string_equal(plane_strerror(0), "success");
    assert_string_equal(plane_strerror(-99999), "unknown error");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_code_named),
        cmocka_unit_test(test_libuv_codes_pass_through),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
