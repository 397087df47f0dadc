# Tests of the sync area: merge operators and the bounded-inconsistency sync engine.
plane_unit_test(merge)
plane_unit_test(sync)
