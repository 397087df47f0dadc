/* hash: to be written. */
