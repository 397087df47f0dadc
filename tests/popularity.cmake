# Tests of the popularity area.
