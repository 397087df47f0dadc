/* fault: to be written. */
