/* mp: to be written. */
