/* popularity: to be written. */
