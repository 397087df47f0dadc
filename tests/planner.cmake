# Tests of the planner area.
