/* device: to be written. */
