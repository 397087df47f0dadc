# TAP ports: switchd's ports as Linux TAP interfaces carrying real traffic.

# integration_tap_iperf_nat: an iperf3 TCP transfer between two network
# namespaces crosses switchd's two TAP ports running the NAT app; the NIC
# serving it is killed mid-transfer and the transfer must complete.  Skips
# (77) when not root, without iperf3, /dev/net/tun or network namespaces.
if(TARGET nat AND TARGET planectl)
  add_test(NAME integration_tap_iperf_nat
    COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/tap/iperf_nat.sh
            $<TARGET_FILE:switchd> $<TARGET_FILE:nicd> $<TARGET_FILE:serverd>
            $<TARGET_FILE:planectl> $<TARGET_FILE:nat>)
  set_tests_properties(integration_tap_iperf_nat PROPERTIES LABELS integration TIMEOUT 300
    RUN_SERIAL TRUE SKIP_RETURN_CODE 77)
endif()

# unit_switch_tap: the `tap:` port field of the rack config and the TAP
# module's open/send/close (the real-TAP case skips itself without
# CAP_NET_ADMIN or /dev/net/tun).
add_executable(test_switch_tap tap/test_switch_tap.c)
target_link_libraries(test_switch_tap PRIVATE plane::plane plane_internal PkgConfig::CMOCKA)
add_test(NAME unit_switch_tap COMMAND test_switch_tap)
set_tests_properties(unit_switch_tap PROPERTIES LABELS unit TIMEOUT 300)
