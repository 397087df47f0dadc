# Tests of the wire area.
