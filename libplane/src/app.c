/* app: to be written. */
