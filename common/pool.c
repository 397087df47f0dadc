/* pool: to be written. */
