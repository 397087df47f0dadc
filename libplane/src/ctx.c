/* ctx: to be written. */
