# Tests of the planner area.
plane_unit_test(planner)
# Fixtures live in tests/unit/planner/; the example workload in examples/racks/.
target_compile_definitions(test_planner PRIVATE
  PLANE_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
  PLANE_PLANNER_FIXTURES="${CMAKE_CURRENT_SOURCE_DIR}/unit/planner")
