"""Built-in converters between artifact formats (registered like every other plugin)."""
