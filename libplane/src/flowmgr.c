/* flowmgr: to be written. */
