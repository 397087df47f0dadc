# Integration tests: the real switchd, nicd and serverd on 127.0.0.1 running flowcheck.
add_executable(rack_test integration/rack_test.c integration/harness.c)
target_link_libraries(rack_test PRIVATE plane::plane plane_internal m ${CMAKE_DL_LIBS})
# flowcheck is dlopened to read its object table; its plane_ctx_* (and the
# sanitizer runtime) resolve from the executable.
set_target_properties(rack_test PROPERTIES ENABLE_EXPORTS ON)
target_compile_definitions(rack_test PRIVATE
  PLANE_SWITCHD="$<TARGET_FILE:switchd>"
  PLANE_NICD="$<TARGET_FILE:nicd>"
  PLANE_SERVERD="$<TARGET_FILE:serverd>")
add_dependencies(rack_test switchd nicd serverd)

# The harness on its own (ports, rack.yaml, frames, Zipf, process control,
# the STATS client and the traffic checker against stand-ins) needs no daemon.
set(plane_rack_tests harness)
if(TARGET flowcheck)
  target_compile_definitions(rack_test PRIVATE PLANE_FLOWCHECK="$<TARGET_FILE:flowcheck>")
  add_dependencies(rack_test flowcheck)
  # Each starts its own rack (see tests/integration/rack_test.c):
  #   basic     every packet out exactly once, stable mappings; junk dropped and counted
  #   counters  per-flow counters exact on every copy after two sync periods
  #   promote   Zipf 0.99: the switch's share passes one half
  #   churn     the hot set moves: demotions hand counts back, share recovers
  #   failover  kill -9 of a NIC under traffic, replica takes over, restart
  #   stall     a NIC stops for 300 ms: its partners' changes it missed are re-learned
  list(APPEND plane_rack_tests basic counters promote churn failover stall)
endif()
foreach(t ${plane_rack_tests})
  add_test(NAME integration_${t} COMMAND rack_test ${t})
  # Alone on the machine: heartbeats and pacing are timing-sensitive, and a
  # rack is four ASan processes already.
  set_tests_properties(integration_${t} PROPERTIES LABELS integration TIMEOUT 300
    RUN_SERIAL TRUE)
endforeach()
