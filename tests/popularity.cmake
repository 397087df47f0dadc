# Tests of the popularity area.
plane_unit_test(sketch)
plane_unit_test(popularity)
plane_unit_test(placement)
