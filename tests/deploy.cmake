# Deployment tests: the installed systemd units, sd_notify readiness/watchdog, and the rack across network namespaces.

# deploy_units: `cmake --install` into a DESTDIR, the layout, the shipped
# example rack.yaml, `systemd-analyze verify` and the offline exposure score
# (at most PLANE_DEPLOY_EXPOSURE_MAX).  Skips (77) without systemd-analyze.
set(PLANE_DEPLOY_EXPOSURE_MAX 3.0 CACHE STRING "Highest systemd exposure score the units may have")
add_test(NAME deploy_units
  COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/deploy/units.sh ${CMAKE_BINARY_DIR}
          ${PLANE_DEPLOY_EXPOSURE_MAX} ${CMAKE_INSTALL_FULL_SBINDIR}
          ${CMAKE_INSTALL_FULL_LIBDIR} ${CMAKE_INSTALL_FULL_INCLUDEDIR}
          ${CMAKE_INSTALL_FULL_DATADIR} ${PLANE_DEPLOY_UNITDIR} ${PLANE_DEPLOY_SYSUSERSDIR})
# It installs every target, so it runs alone, after the build.
set_tests_properties(deploy_units PROPERTIES LABELS deploy TIMEOUT 300
  SKIP_RETURN_CODE 77 RUN_SERIAL TRUE)

# deploy_sdnotify: switchd under a fake NOTIFY_SOCKET with WATCHDOG_USEC.
add_executable(sdnotify_test deploy/sdnotify_test.c)
add_dependencies(sdnotify_test switchd)
add_test(NAME deploy_sdnotify COMMAND sdnotify_test $<TARGET_FILE:switchd>)
set_tests_properties(deploy_sdnotify PROPERTIES LABELS deploy TIMEOUT 300)

# integration_netns: switch, NIC and server hosts in three network
# namespaces joined by veth pairs, flowcheck traffic from planegen.
# Skips (77) when not root or without namespaces.
if(TARGET flowcheck AND TARGET planegen)
  add_test(NAME integration_netns
    COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/deploy/netns.sh
            $<TARGET_FILE:switchd> $<TARGET_FILE:nicd> $<TARGET_FILE:serverd>
            $<TARGET_FILE:planegen> $<TARGET_FILE:flowcheck>)
  set_tests_properties(integration_netns PROPERTIES LABELS integration TIMEOUT 300
    RUN_SERIAL TRUE SKIP_RETURN_CODE 77)
endif()
