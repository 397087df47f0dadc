# Tests of the pkt area.
