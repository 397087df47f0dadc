/* object: to be written. */
