# Tests of the app area: app objects, app loading and the per-packet context.
plane_unit_test(object)

# The test app module, and two broken builds of it for load-error tests.  They
# link nothing: plane_ctx_*() (and, under ASan, the sanitizer runtime) resolve
# from the test executable, which exports its symbols (ENABLE_EXPORTS).
foreach(variant counter noentry badabi)
  add_library(test_${variant}_app MODULE apps/test_counter_app.c)
  target_include_directories(test_${variant}_app PRIVATE
    ${PROJECT_SOURCE_DIR}/libplane/include)
endforeach()
target_compile_definitions(test_noentry_app PRIVATE TEST_APP_NO_ENTRY=1)
target_compile_definitions(test_badabi_app PRIVATE TEST_APP_ABI=99)

plane_unit_test(app)
set_target_properties(test_app PROPERTIES ENABLE_EXPORTS ON)
add_dependencies(test_app test_counter_app test_noentry_app test_badabi_app)
target_compile_definitions(test_app PRIVATE
  PLANE_TEST_APP_PATH="$<TARGET_FILE:test_counter_app>"
  PLANE_TEST_NOENTRY_APP_PATH="$<TARGET_FILE:test_noentry_app>"
  PLANE_TEST_BADABI_APP_PATH="$<TARGET_FILE:test_badabi_app>")
target_link_libraries(test_app PRIVATE ${CMAKE_DL_LIBS})

# Example apps (examples/apps/*), each through tests/unit/app_harness.h.
plane_app_test(flowcheck)
