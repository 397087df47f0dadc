/* pkt: to be written. */
