# Tests of the planner area.
plane_unit_test(planner)
# Fixtures live in tests/unit/planner/; the example workload in examples/racks/.
target_compile_definitions(test_planner PRIVATE
  PLANE_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
  PLANE_PLANNER_FIXTURES="${CMAKE_CURRENT_SOURCE_DIR}/unit/planner")

# planectl plan -> fragment -> the daemons load a rack that names it.
if(TARGET planectl AND TARGET vpngw AND TARGET monitor)
  add_test(NAME planner_plan_to_rack
    COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/scripts/plan_to_rack.sh ${PROJECT_SOURCE_DIR}
            ${CMAKE_BINARY_DIR})
  set_tests_properties(planner_plan_to_rack PROPERTIES LABELS unit TIMEOUT 120)
endif()
if(PCAP_FOUND)
  target_compile_definitions(test_planner PRIVATE PLANE_TEST_HAVE_PCAP=1)
endif()
