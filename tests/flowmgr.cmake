# Tests of the flowmgr area.
