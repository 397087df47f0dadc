/* sketch: to be written. */
