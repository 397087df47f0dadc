/* placement: to be written. */
