/* update: to be written. */
