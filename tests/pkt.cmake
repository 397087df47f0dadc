# Tests of the pkt area: packet parsing, flow keys, hashing.
plane_unit_test(pkt)
plane_unit_test(hash)
plane_fuzz_target(pkt)
