# Tests of the config area.
plane_unit_test(config)
# The tests load examples/racks/local.yaml and fixtures from the source tree.
target_compile_definitions(test_config PRIVATE PLANE_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
plane_fuzz_target(config)
