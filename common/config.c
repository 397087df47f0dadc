/* config: to be written. */
