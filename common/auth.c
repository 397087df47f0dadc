/* auth: to be written. */
