# Integration tests of the example apps on the local rack: each app's output
# equals one unlimited copy's (tests/integration/app_rack_test.c).
set(plane_app_rack_apps nat firewall acl tcpretx vpngw monitor snat synproxy netcache)
add_executable(app_rack_test ${CMAKE_CURRENT_LIST_DIR}/integration/app_rack_test.c
  ${CMAKE_CURRENT_LIST_DIR}/integration/harness.c)
target_link_libraries(app_rack_test PRIVATE plane::plane plane_internal m ${CMAKE_DL_LIBS})
# The reference instance dlopens the app module, whose plane_ctx_* (and the
# sanitizer runtime) resolve from the executable.
set_target_properties(app_rack_test PROPERTIES ENABLE_EXPORTS ON)
# netcache_proto.h: the client side of NetCache's protocol.
target_include_directories(app_rack_test PRIVATE ${PROJECT_SOURCE_DIR}/examples/apps/netcache)
target_compile_definitions(app_rack_test PRIVATE
  PLANE_SWITCHD="$<TARGET_FILE:switchd>"
  PLANE_NICD="$<TARGET_FILE:nicd>"
  PLANE_SERVERD="$<TARGET_FILE:serverd>"
  PLANE_EXAMPLES_DIR="${PROJECT_SOURCE_DIR}/examples/apps"
  # examples/CMakeLists.txt builds every module as apps/NAME.so.
  PLANE_APP_DIR="${CMAKE_BINARY_DIR}/apps")
add_dependencies(app_rack_test switchd nicd serverd)
foreach(app ${plane_app_rack_apps})
  if(NOT TARGET ${app})
    continue()
  endif()
  add_dependencies(app_rack_test ${app})
  add_test(NAME app_rack_${app} COMMAND app_rack_test ${app})
  # A rack is four ASan processes and heartbeats are timing-sensitive.
  set_tests_properties(app_rack_${app} PROPERTIES LABELS integration TIMEOUT 300
    RUN_SERIAL TRUE)
endforeach()

# The two scenario racks run on the local rack (planectl up + planegen).
if(TARGET planectl AND TARGET planegen)
  set(scenario_frontend
    "udp:7000-7999@10~192.0.2.0/24^10.1.0.0/16,udp:7000-7999@20~10.1.0.0/24,udp:7000-7999@30~10.1.0.0/16,udp:7000-7999")
  set(scenario_leaf "udp:7000-7999@20~10.1.0.0/24,udp:7000-7999@40~10.1.0.0/16,udp:40000-44096@70")
  foreach(sc frontend leaf)
    add_test(NAME scenario_${sc}
      COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/scripts/scenario.sh ${PROJECT_SOURCE_DIR}
              ${CMAKE_BINARY_DIR} ${sc} "${scenario_${sc}}")
    set_tests_properties(scenario_${sc} PROPERTIES LABELS integration TIMEOUT 300
      RUN_SERIAL TRUE)
  endforeach()
endif()
