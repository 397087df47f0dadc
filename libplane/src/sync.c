/* sync: to be written. */
