/* daemon: to be written. */
