/* planner: to be written. */
