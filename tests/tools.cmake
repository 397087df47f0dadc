# Tests of the tools: planegen's logic (no network) and gen -> sink over loopback.
plane_unit_test(gen planegen_core)
plane_unit_test(gen_loopback planegen_core)
target_compile_definitions(test_gen_loopback PRIVATE PLANEGEN_BIN="$<TARGET_FILE:planegen>")
add_dependencies(test_gen_loopback planegen)
set_tests_properties(unit_gen_loopback PROPERTIES LABELS integration)
