# Tests of the sync area.
