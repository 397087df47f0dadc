# Tests of the second batch of example apps (examples/apps/{monitor,synproxy,netcache,tcpretx}).
plane_app_test(tcpretx)
plane_app_test(monitor)
plane_app_test(netcache)
plane_app_test(synproxy)
