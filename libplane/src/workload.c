/* workload: to be written. */
