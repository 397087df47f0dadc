/* switch: to be written. */
