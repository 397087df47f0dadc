# Tests of the transport area: buffer pool, fault injection, UDP endpoint, auth, RPC.
plane_unit_test(pool)
plane_unit_test(fault)
plane_unit_test(udp)
plane_unit_test(auth)
plane_unit_test(rpc)
plane_unit_test(rate)
