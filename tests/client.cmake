# The control client (<plane/client.h>) and planectl against the real switchd and nicd.
if(TARGET flowcheck)
  add_executable(client_test integration/client_test.c)
  target_link_libraries(client_test PRIVATE plane::plane)
  target_compile_definitions(client_test PRIVATE
    PLANE_SWITCHD="$<TARGET_FILE:switchd>"
    PLANE_NICD="$<TARGET_FILE:nicd>"
    PLANE_PLANECTL="$<TARGET_FILE:planectl>"
    PLANE_FLOWCHECK="$<TARGET_FILE:flowcheck>")
  add_dependencies(client_test switchd nicd planectl flowcheck)
  add_test(NAME integration_client COMMAND client_test)
  set_tests_properties(integration_client PROPERTIES LABELS integration TIMEOUT 300
    RUN_SERIAL TRUE)
endif()
