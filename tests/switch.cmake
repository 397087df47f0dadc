# Tests of the switch runtime (libplane/src/switch.c) and its raw port endpoints.
plane_unit_test(switch)
# The switch dlopen()s the flowcheck app module, whose plane_ctx_*() calls
# resolve against the test executable.
set_target_properties(test_switch PROPERTIES ENABLE_EXPORTS ON)
add_dependencies(test_switch flowcheck)
target_compile_definitions(test_switch PRIVATE
  PLANE_TEST_APP_PATH="$<TARGET_FILE:flowcheck>")
target_link_libraries(test_switch PRIVATE ${CMAKE_DL_LIBS})
