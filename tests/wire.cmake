# Tests of the wire area: msgpack helpers, DATA/CONTROL headers and bodies.
plane_unit_test(mp)
plane_unit_test(wire)
plane_fuzz_target(wire_data)
plane_fuzz_target(wire_ctl)
plane_unit_test(statpage)
