"""The model package's error root: a model file, an input or a value the circuit cannot take."""


class ModelError(ValueError):
    """Raised on purpose by zkmarket.model (ModelFormatError, InputError, LookupRangeError)."""
