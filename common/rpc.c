/* rpc: to be written. */
