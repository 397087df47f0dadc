# Tests of the external-device runtime (libplane/src/device.c, daemon.c) with the flowcheck app.
plane_unit_test(device)
# flowcheck.so resolves plane_ctx_*() (and the sanitizer runtime) from the test.
set_target_properties(test_device PROPERTIES ENABLE_EXPORTS ON)
add_dependencies(test_device flowcheck)
target_compile_definitions(test_device PRIVATE
  PLANE_FLOWCHECK_PATH="$<TARGET_FILE:flowcheck>")
