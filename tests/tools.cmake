# Tests of the tools: planegen's logic (no network) and gen -> sink over loopback.
plane_unit_test(gen planegen_core)
plane_unit_test(gen_loopback planegen_core)
target_compile_definitions(test_gen_loopback PRIVATE PLANEGEN_BIN="$<TARGET_FILE:planegen>")
add_dependencies(test_gen_loopback planegen)
set_tests_properties(unit_gen_loopback PROPERTIES LABELS integration)

# planectl's flags, errors and JSON without a rack (the rack-backed commands are
# in tests/integration/client_test.c).
if(TARGET planectl)
  add_test(NAME tools_planectl_flags
    COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/tools/planectl_flags.sh $<TARGET_FILE:planectl>
            ${PROJECT_SOURCE_DIR})
  set_tests_properties(tools_planectl_flags PROPERTIES LABELS unit TIMEOUT 120)
endif()
