# Tests of the flowmgr area: the flow manager and the two-phase update engine.
plane_unit_test(flowmgr)
plane_unit_test(update)
