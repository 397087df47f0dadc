/* udp: to be written. */
