# Tests of the transport area.
