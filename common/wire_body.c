/* wire_body: to be written. */
